package fsview

import "maps"

// memIndex is MemRaw's index of names. Its nodes may be shared with other
// layers (a clone's index starts as a copy of the map, pointing at the
// same nodes): such a node is frozen, never changed again, and writable
// copies it before a change, so a clone costs one map copy and no node
// copies.
type memIndex struct {
	nodes map[string]*memNode
	// dirty: some node is not frozen (freeze has work to do).
	dirty bool
	// version counts the changes to the map.
	version uint64
}

func newMemIndex(nodes map[string]*memNode) memIndex {
	return memIndex{nodes: nodes, dirty: true}
}

// get returns the node at name.
func (x *memIndex) get(name string) (*memNode, bool) {
	n, ok := x.nodes[name]
	return n, ok
}

// writable returns the node at name (which must exist) for changing.
func (x *memIndex) writable(name string) *memNode {
	n := x.nodes[name]
	if !n.frozen {
		return n
	}
	copied := *n
	copied.frozen = false
	x.set(name, &copied)
	return &copied
}

// set puts n at name.
func (x *memIndex) set(name string, n *memNode) {
	x.nodes[name] = n
	x.version++
	if !n.frozen {
		x.dirty = true
	}
}

// del removes name.
func (x *memIndex) del(name string) {
	delete(x.nodes, name)
	x.version++
}

// each calls fn for every name and node, in no order.
func (x *memIndex) each(fn func(string, *memNode)) {
	for name, n := range x.nodes {
		fn(name, n)
	}
}

// freeze marks every node frozen and reports whether any was not.
func (x *memIndex) freeze() bool {
	if !x.dirty {
		return false
	}
	for _, n := range x.nodes {
		if !n.frozen { // GOTCHA: never write a frozen node: others read it
			n.frozen = true
		}
	}
	x.dirty = false
	return true
}

// clone returns an index of the same (frozen) nodes, with room to grow.
func (x *memIndex) clone() memIndex {
	x.freeze()
	return memIndex{nodes: maps.Clone(x.nodes)}
}
