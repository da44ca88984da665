package sim

import (
	"errors"
	"io/fs"
	"sync"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// storeCache holds, per closure and per component store object, the tree
// makeValid writes, each written once in a view of its own and shared by
// every host's store (fsview.View.CopyTree, copy-on-write): writing them
// anew was most of a host's set-up. Trees are pure functions of their
// keys, so sharing keeps hosts deterministic; a host that changes a shared
// entry gets its own copy.
var storeCache = struct {
	mu    sync.Mutex
	trees map[string]*fsview.View
}{trees: map[string]*fsview.View{}}

// maxCachedTrees bounds the cache; past it the cache starts again (hosts
// keep what they share).
const maxCachedTrees = 4096

// storeTree is a tree makeValid puts in the store: its name in the cache
// and how to write it into a view.
type storeTree interface {
	cacheKey() string
	write(v *fsview.View) error
}

// cachedTree returns the view holding t, writing it on first use.
func cachedTree(t storeTree) (*fsview.View, error) {
	key := t.cacheKey()
	storeCache.mu.Lock()
	defer storeCache.mu.Unlock()
	if v, ok := storeCache.trees[key]; ok {
		return v, nil
	}
	v := fsview.NewMem()
	if err := t.write(v); err != nil {
		return nil, err
	}
	if len(storeCache.trees) >= maxCachedTrees {
		clear(storeCache.trees)
	}
	storeCache.trees[key] = v
	return v, nil
}

// place puts t at name in the host's store: shared from the cache when
// the host has no name yet, else written again over what is there (as a
// fresh write would also do where the cache cannot be used, e.g. with no
// store directory).
func (h *Host) place(name string, t storeTree) error {
	if _, err := h.fs.Lstat(name); errors.Is(err, fs.ErrNotExist) {
		tree, err := cachedTree(t)
		if err != nil {
			return err
		}
		if h.fs.CopyTree(tree, name) == nil {
			return nil
		}
	}
	return t.write(h.fs)
}
