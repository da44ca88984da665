package explore

import (
	"context"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Config configures an Explorer.
type Config struct {
	// Wrap, when set, wraps the pipeline's dependencies of every
	// invocation (the agent's and the recovery's): a deliberately broken
	// variant in tests, a tracing layer.
	Wrap func(pipeline.Deps) pipeline.Deps
	// Workers is how many runs go in parallel (0: GOMAXPROCS). Results do
	// not depend on it.
	Workers int
	// Examples is how many violating runs are kept per invariant (0: 20);
	// every violation is counted.
	Examples int
}

// Explorer runs fault combinations against the pipeline.
type Explorer struct {
	cfg Config
	cat Catalogue
}

// New returns an Explorer over the catalogue.
func New(cfg Config) *Explorer {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Examples <= 0 {
		cfg.Examples = 20
	}
	return &Explorer{cfg: cfg, cat: catalogue()}
}

// Catalogue returns the explorer's fault catalogue.
func (e *Explorer) Catalogue() Catalogue { return e.cat }

// Run runs one combination (ascending catalogue indices; see
// Catalogue.Valid) and checks every invariant. Index and Seed are left for
// the caller.
func (e *Explorer) Run(combo []int) *Run {
	return e.run(combo, false)
}

// Trace is Run that always keeps the host's summary and command log (Run
// keeps them for violating runs only).
func (e *Explorer) Trace(combo []int) *Run { return e.run(combo, true) }

func (e *Explorer) run(combo []int, trace bool) *Run {
	r := execute(e.cat.Spec(combo), e.cfg.Wrap)
	r.Combo, r.Faults = slices.Clone(combo), e.cat.Faults(combo)
	r.check()
	if (trace || len(r.Violations) > 0) && r.host != nil {
		r.Summary, r.Log = r.host.Summary(), r.host.Log()
	}
	r.host = nil
	return r
}

// Report sums up an exploration.
type Report struct {
	// Mode is "exhaustive" or "random".
	Mode string
	// Depth is the exhaustive depth, or random mode's largest fault count.
	Depth int
	// Seed is random mode's first seed.
	Seed uint64
	// Runs is how many runs were made, and PerSize how many had each fault
	// count (index = count).
	Runs    int
	PerSize []int
	// Elapsed is the wall time.
	Elapsed time.Duration
	// Interrupted: the context ended before every run was made.
	Interrupted bool
	// Violating counts the runs that broke each invariant.
	Violating map[string]int
	// Examples are the first violating runs per invariant (Config.Examples
	// of each), in run order.
	Examples []*Run
}

// OK reports whether no run broke an invariant.
func (rep Report) OK() bool { return len(rep.Violating) == 0 }

// job is one combination to run.
type job struct {
	index int
	seed  uint64
	combo []int
}

// Exhaustive runs every valid combination of up to depth faults, until ctx
// ends.
func (e *Explorer) Exhaustive(ctx context.Context, depth int) Report {
	rep := Report{Mode: "exhaustive", Depth: depth}
	e.explore(ctx, &rep, func(jobs chan<- job) {
		e.cat.Enumerate(depth, func(index int, combo []int) bool {
			jobs <- job{index: index, combo: slices.Clone(combo)}
			return ctx.Err() == nil
		})
	})
	return rep
}

// Random runs n combinations of 1 to maxFaults faults, until ctx ends; run
// i is drawn from seed+i (Catalogue.Draw), so `--seed S --runs 1` replays
// the run that printed seed S.
func (e *Explorer) Random(ctx context.Context, seed uint64, n, maxFaults int) Report {
	rep := Report{Mode: "random", Depth: maxFaults, Seed: seed}
	e.explore(ctx, &rep, func(jobs chan<- job) {
		for i := 0; i < n && ctx.Err() == nil; i++ {
			s := seed + uint64(i)
			jobs <- job{index: i, seed: s, combo: e.cat.Draw(s, maxFaults)}
		}
	})
	return rep
}

// explore runs the jobs produce sends on the workers and fills rep.
func (e *Explorer) explore(ctx context.Context, rep *Report, produce func(chan<- job)) {
	began := time.Now()
	jobs, results := make(chan job, 64), make(chan *Run, 64)
	var wg sync.WaitGroup
	for range e.cfg.Workers {
		wg.Go(func() {
			for j := range jobs {
				r := e.Run(j.combo)
				r.Index, r.Seed = j.index, j.seed
				results <- r
			}
		})
	}
	go func() {
		produce(jobs)
		close(jobs)
		wg.Wait()
		close(results)
	}()
	rep.Violating = map[string]int{}
	for r := range results {
		e.tally(rep, r)
	}
	rep.sortExamples()
	rep.trimExamples(e.cfg.Examples)
	rep.Elapsed, rep.Interrupted = time.Since(began), ctx.Err() != nil
}

// tally counts a run; violating runs are kept for trimExamples.
func (e *Explorer) tally(rep *Report, r *Run) {
	rep.Runs++
	for len(rep.PerSize) <= len(r.Combo) {
		rep.PerSize = append(rep.PerSize, 0)
	}
	rep.PerSize[len(r.Combo)]++
	seen := map[string]bool{}
	for _, v := range r.Violations {
		if !seen[v.Invariant] {
			rep.Violating[v.Invariant]++
			seen[v.Invariant] = true
		}
	}
	if len(r.Violations) > 0 {
		r.Log = nil // keep examples small; Rerun restores it
		rep.Examples = append(rep.Examples, r)
	}
	// Trimming keeps the lowest indices seen so far, so trimming early
	// never drops a run the final trim would keep.
	if len(rep.Examples) > 4*e.cfg.Examples*len(invariants) {
		rep.sortExamples()
		rep.trimExamples(e.cfg.Examples)
	}
}

func (rep *Report) sortExamples() {
	sort.Slice(rep.Examples, func(i, j int) bool { return rep.Examples[i].Index < rep.Examples[j].Index })
}

// trimExamples keeps the first n runs (in run order) of each invariant,
// whatever order the workers finished in.
func (rep *Report) trimExamples(n int) {
	kept := map[string]int{}
	rep.Examples = slices.DeleteFunc(rep.Examples, func(r *Run) bool {
		keep := false
		for _, v := range r.Violations {
			if kept[v.Invariant] < n {
				keep = true
			}
		}
		if keep {
			for _, inv := range r.invariantNames() {
				kept[inv]++
			}
		}
		return !keep
	})
}

// invariantNames lists the invariants r broke, each once, in order.
func (r *Run) invariantNames() []string {
	var out []string
	for _, v := range r.Violations {
		if !slices.Contains(out, v.Invariant) {
			out = append(out, v.Invariant)
		}
	}
	return out
}

// Broke reports whether r broke the named invariant.
func (r *Run) Broke(invariant string) bool { return slices.Contains(r.invariantNames(), invariant) }

// Shrink returns the run of the smallest subset of r's faults that still
// breaks invariant (r's first broken one when "") the same way: explained
// by the same known issue, or by none (see ShrinkViolation).
func (e *Explorer) Shrink(r *Run, invariant string) *Run {
	for _, v := range r.Violations {
		if invariant == "" || v.Invariant == invariant {
			return e.ShrinkViolation(r, v)
		}
	}
	return r
}

// ShrinkViolation returns the run of the smallest subset of r's faults
// that still breaks v's invariant in v's class (the same known issue, or
// none), trying subsets by size, then lexicographically; r rerun when no
// smaller subset does.
func (e *Explorer) ShrinkViolation(r *Run, v Violation) *Run {
	class := KnownIssueOf(r, v)
	same := func(run *Run) bool {
		return slices.ContainsFunc(run.Violations, func(w Violation) bool {
			return w.Invariant == v.Invariant && KnownIssueOf(run, w) == class
		})
	}
	for size := 0; size < len(r.Combo); size++ {
		if found := e.shrinkTo(r.Combo, size, same); found != nil {
			found.Index, found.Seed = -1, 0
			return found
		}
	}
	return e.Rerun(r)
}

// shrinkTo returns the first run over a size-subset of combo that keeps,
// nil when none does.
func (e *Explorer) shrinkTo(combo []int, size int, keeps func(*Run) bool) *Run {
	var found *Run
	var pick func(start int, sub []int) bool
	pick = func(start int, sub []int) bool {
		if len(sub) == size {
			if !e.cat.Valid(sub) {
				return false
			}
			if r := e.Run(sub); keeps(r) {
				found = r
				return true
			}
			return false
		}
		for i := start; i < len(combo); i++ {
			if pick(i+1, append(sub, combo[i])) {
				return true
			}
		}
		return false
	}
	pick(0, make([]int, 0, size))
	return found
}

// Rerun runs r's combination again, keeping its index and seed (runs are
// deterministic: the result is the same, with the log and summary that a
// report's examples drop).
func (e *Explorer) Rerun(r *Run) *Run {
	again := e.Run(r.Combo)
	again.Index, again.Seed = r.Index, r.Seed
	return again
}
