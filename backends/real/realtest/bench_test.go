package realtest

import (
	"fmt"
	"testing"
	"time"
)

// The harness's costs, as benchmarks (go test -run '^$' -bench . -benchtime 5x):
// they size CI budgets and the timeouts above.

func BenchmarkBuildClosure(b *testing.B) {
	root := b.TempDir()
	variant := uniqueVariant(b)
	var built []string
	b.Cleanup(func() {
		for _, p := range built {
			DeleteFromStore(b, p)
		}
	})
	for i := 0; i < b.N; i++ {
		built = append(built, BuildClosure(b, ClosureOpts{Variant: fmt.Sprint(variant, i), TestRoot: root}))
	}
}

func BenchmarkRealiseFromCache(b *testing.B) {
	n := RequireNix(b)
	path := BuildClosure(b, ClosureOpts{Variant: uniqueVariant(b), TestRoot: b.TempDir()})
	b.Cleanup(func() { DeleteFromStore(b, path) })
	cache := NewCache(b)
	cache.Publish(b, path)
	argv := append([]string{"nix-store", "--realise", path}, cache.SubstituterOptions(cache.PublicKey())...)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		DeleteFromStore(b, path)
		b.StartTimer()
		if res := n.Run(b, argv...); res.ExitCode != 0 {
			b.Fatalf("realise: exit %d\n%s", res.ExitCode, res.Stderr)
		}
	}
}

// BenchmarkContainerBoot measures StartContainer up to "running"; the clean
// halt is reported as stop-ms.
func BenchmarkContainerBoot(b *testing.B) {
	RequireContainer(b)
	var stopping time.Duration
	for i := 0; i < b.N; i++ {
		c := StartContainer(b, ContainerOpts{})
		b.StopTimer()
		start := time.Now()
		if err := c.Stop(); err != nil {
			b.Fatal(err)
		}
		stopping += time.Since(start)
		b.StartTimer()
	}
	b.ReportMetric(float64(stopping.Milliseconds())/float64(b.N), "stop-ms")
}
