package explore

import (
	"math/rand/v2"
	"slices"
)

// Valid reports whether combo (ascending catalogue indices) is a run: no
// index twice, at most one fault per group, every fault applying to the
// combination's operation (a rollback when it holds op=rollback), every
// requirement met.
func (c Catalogue) Valid(combo []int) bool {
	groups := make(map[string]bool, len(combo))
	for i, idx := range combo {
		if idx < 0 || idx >= len(c) || (i > 0 && combo[i-1] >= idx) || groups[c[idx].Group] {
			return false
		}
		groups[c[idx].Group] = true
	}
	op := OpActivate
	if groups[groupOp] {
		op = OpRollback
	}
	for _, idx := range combo {
		f := c[idx]
		if !f.Applies(op) || (f.requires != "" && !groups[f.requires]) {
			return false
		}
	}
	return true
}

// Spec returns the world of combo: the baseline with each fault applied in
// catalogue order (the op fault comes first).
func (c Catalogue) Spec(combo []int) Spec {
	s := newSpec(OpActivate)
	for _, idx := range combo {
		c[idx].apply(&s)
	}
	return s
}

// Faults returns the faults of combo.
func (c Catalogue) Faults(combo []int) []Fault {
	out := make([]Fault, len(combo))
	for i, idx := range combo {
		out[i] = c[idx]
	}
	return out
}

// Index returns the catalogue index of the fault named name, -1 if none.
func (c Catalogue) Index(name string) int {
	return slices.IndexFunc(c, func(f Fault) bool { return f.Name == name })
}

// Enumerate calls visit with every valid combination of 0 to depth faults,
// in a fixed order: by size, then lexicographically by index. index counts
// valid combinations from 0 (the baseline), so a combination has the same
// index at every depth that includes it. visit must not keep combo; it
// returns false to stop.
func (c Catalogue) Enumerate(depth int, visit func(index int, combo []int) bool) {
	index := 0
	for size := 0; size <= depth; size++ {
		combo := make([]int, 0, size)
		if !c.combinations(combo, 0, size, &index, visit) {
			return
		}
	}
}

// combinations extends prefix with ascending indices from `from` until it
// has size elements, pruning group clashes early.
func (c Catalogue) combinations(prefix []int, from, size int, index *int, visit func(int, []int) bool) bool {
	if len(prefix) == size {
		if !c.Valid(prefix) {
			return true
		}
		ok := visit(*index, prefix)
		*index++
		return ok
	}
	for i := from; i <= len(c)-(size-len(prefix)); i++ {
		if c.clashes(prefix, i) {
			continue
		}
		if !c.combinations(append(prefix, i), i+1, size, index, visit) {
			return false
		}
	}
	return true
}

func (c Catalogue) clashes(prefix []int, i int) bool {
	for _, p := range prefix {
		if c[p].Group == c[i].Group {
			return true
		}
	}
	return false
}

// Count returns how many valid combinations of exactly each size 0..depth
// there are.
func (c Catalogue) Count(depth int) []int {
	counts := make([]int, depth+1)
	c.Enumerate(depth, func(_ int, combo []int) bool { counts[len(combo)]++; return true })
	return counts
}

// At returns the combination with the given exhaustive index (nil when
// there is none up to depth).
func (c Catalogue) At(depth, index int) []int {
	var found []int
	c.Enumerate(depth, func(i int, combo []int) bool {
		if i == index {
			found = slices.Clone(combo)
			return false
		}
		return true
	})
	return found
}

// randomSeed2 is the second PCG word of random mode (fixed so a seed alone
// replays a run).
const randomSeed2 = 0x6e697866_6c656574

// Draw returns the random combination of seed: 1 to maxFaults faults, a
// rollback one time in four, faults taken in a shuffled order while they
// fit (one per group, applying to the op, requirements met).
func (c Catalogue) Draw(seed uint64, maxFaults int) []int {
	rng := rand.New(rand.NewPCG(seed, randomSeed2))
	want := 1 + rng.IntN(max(maxFaults, 1))
	order := rng.Perm(len(c))
	op := OpActivate
	var combo []int
	if opIdx := c.groupIndex(groupOp); opIdx >= 0 && rng.IntN(4) == 0 {
		op, combo = OpRollback, []int{opIdx}
	}
	for _, idx := range order {
		if len(combo) >= want {
			break
		}
		f := c[idx]
		if f.Group == groupOp || !f.Applies(op) || c.clashes(combo, idx) {
			continue
		}
		combo = append(combo, idx)
	}
	slices.Sort(combo)
	return c.dropUnmet(combo)
}

// dropUnmet removes faults whose required group is absent.
func (c Catalogue) dropUnmet(combo []int) []int {
	// GOTCHA: dropping a fault can unmeet another's requirement, so drop until nothing changes.
	for {
		groups := map[string]bool{}
		for _, idx := range combo {
			groups[c[idx].Group] = true
		}
		n := len(combo)
		combo = slices.DeleteFunc(combo, func(idx int) bool { return c[idx].requires != "" && !groups[c[idx].requires] })
		if len(combo) == n {
			return combo
		}
	}
}

func (c Catalogue) groupIndex(group string) int {
	return slices.IndexFunc(c, func(f Fault) bool { return f.Group == group })
}

// Normalize turns any list of catalogue indices (fuzz input) into a valid
// combination of at most maxFaults faults: out-of-range indices wrap, the
// op is a rollback when the op fault appears, and faults are kept in input
// order while they fit (the op fault first, then one per group, applying
// to the op; requirements met at the end).
func (c Catalogue) Normalize(indices []int, maxFaults int) []int {
	op, opIdx := OpActivate, c.groupIndex(groupOp)
	for i := range indices {
		indices[i] = ((indices[i] % len(c)) + len(c)) % len(c)
		if indices[i] == opIdx {
			op = OpRollback
		}
	}
	var combo []int
	if op == OpRollback {
		combo = append(combo, opIdx) // LOADBEARING: the op fault first, or it may not fit
	}
	for _, idx := range indices {
		if len(combo) < maxFaults && c[idx].Applies(op) && !c.clashes(combo, idx) {
			combo = append(combo, idx)
		}
	}
	slices.Sort(combo)
	return c.dropUnmet(combo)
}
