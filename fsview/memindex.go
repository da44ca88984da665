package fsview

// memIndex is MemRaw's index of names: the layer's own nodes over a base
// shared with its clones (copy on write at the level of the index too, so
// a clone costs no copy of it). A base and its nodes are never changed;
// a frozen node (every node of a base, and those own has from another
// layer's base) is copied into own by writable before it is changed, and
// a nil node in own hides the base's.
type memIndex struct {
	base map[string]*memNode
	own  map[string]*memNode
}

func newMemIndex(base map[string]*memNode) memIndex {
	return memIndex{base: base, own: map[string]*memNode{}}
}

// get returns the node at name.
func (x *memIndex) get(name string) (*memNode, bool) {
	if n, ok := x.own[name]; ok {
		return n, n != nil
	}
	n, ok := x.base[name]
	return n, ok
}

// writable returns the node at name (which must exist) for changing.
func (x *memIndex) writable(name string) *memNode {
	n, _ := x.get(name)
	if !n.frozen {
		return n
	}
	copied := *n
	copied.frozen = false
	x.own[name] = &copied
	return &copied
}

// set puts n at name.
func (x *memIndex) set(name string, n *memNode) { x.own[name] = n }

// del removes name.
func (x *memIndex) del(name string) {
	if _, ok := x.base[name]; ok {
		x.own[name] = nil
		return
	}
	delete(x.own, name)
}

// each calls fn for every name and node, in no order.
func (x *memIndex) each(fn func(string, *memNode)) {
	for name, n := range x.base {
		if _, hidden := x.own[name]; !hidden {
			fn(name, n)
		}
	}
	for name, n := range x.own {
		if n != nil {
			fn(name, n)
		}
	}
}

// freeze makes every node part of the base (merging own into a new base
// when it holds anything) and reports whether own held anything.
func (x *memIndex) freeze() bool {
	if len(x.own) == 0 {
		return false
	}
	merged := make(map[string]*memNode, len(x.base)+len(x.own))
	x.each(func(name string, n *memNode) {
		if !n.frozen { // GOTCHA: never write a frozen node: others read it
			n.frozen = true
		}
		merged[name] = n
	})
	x.base, x.own = merged, map[string]*memNode{}
	return true
}
