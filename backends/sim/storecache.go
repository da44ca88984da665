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

// cachedTree returns the view holding the tree of key, writing it with
// write on first use.
func cachedTree(key string, write func(*fsview.View) error) (*fsview.View, error) {
	storeCache.mu.Lock()
	defer storeCache.mu.Unlock()
	if v, ok := storeCache.trees[key]; ok {
		return v, nil
	}
	v := fsview.NewMem()
	if err := write(v); err != nil {
		return nil, err
	}
	if len(storeCache.trees) >= maxCachedTrees {
		clear(storeCache.trees)
	}
	storeCache.trees[key] = v
	return v, nil
}

// place puts the tree name in the host's store: shared from the cache
// when the host has no name yet, else written again over what is there
// with write (as a fresh write would also do where the cache cannot be
// used, e.g. with no store directory).
func (h *Host) place(name, key string, write func(*fsview.View) error) error {
	if _, err := h.fs.Lstat(name); errors.Is(err, fs.ErrNotExist) {
		tree, err := cachedTree(key, write)
		if err != nil {
			return err
		}
		if h.fs.CopyTree(tree, name) == nil {
			return nil
		}
	}
	return write(h.fs)
}
