package real_test

// Fidelity of nix-store --realise's --add-root and of the texts of an HTTP
// substituter answering error statuses: the real Nix against a binary
// cache served on 127.0.0.1 by an httptest server (loopback only, one
// server per case, so Nix's disk cache never remembers an earlier case).

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

func TestFidelityRealiseAddRoot(t *testing.T) {
	n := realtest.RequireNix(t)
	p := fidelityClosure(t, t.TempDir(), "rooted", realtest.ClosureOpts{})
	h := sim.MustNewHost(sim.HostConfig{})
	h.MustAddClosure(sim.ClosureSpec{Basename: filepath.Base(p), Valid: true})
	tw := twin{real: proc.Exec{}, sim: h}
	be := real.New(real.Config{Env: n.Env})

	root := filepath.Join(t.TempDir(), "state", "gcroots", filepath.Base(p)) // parents do not exist yet
	t.Cleanup(func() { _ = os.Remove(root) })
	r, s := tw.same(t, be.RealiseCmd(p, root))
	assert.Equal(t, root+"\n", string(r.Stdout), "Nix 2.8 prints the root, not the store path")
	realTarget, err := os.Readlink(root)
	require.NoError(t, err)
	simTarget, err := h.FS().Readlink(root)
	require.NoError(t, err)
	assert.Equal(t, p, realTarget)
	assert.Equal(t, realTarget, simTarget)
	assert.Equal(t, 0, s.ExitCode)

	// Again over the existing link: replaced, same output.
	tw.same(t, be.RealiseCmd(p, root))
	// A file in the way, and a root inside the store, are refused alike.
	file := filepath.Join(filepath.Dir(root), "file")
	require.NoError(t, os.WriteFile(file, []byte("x\n"), 0o644))
	require.NoError(t, h.FS().WriteFile(file, []byte("x\n"), 0o644))
	tw.same(t, be.RealiseCmd(p, file))
	tw.same(t, be.RealiseCmd(p, "/nix/store/nixfleet-fidelity-root"))
}

// faultyCache serves dir over HTTP, answering every request whose path
// starts with prefix with status and an empty body.
func faultyCache(t *testing.T, dir, prefix string, status int) *httptest.Server {
	files := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, prefix) {
			w.WriteHeader(status)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// refused lists the distinct refused-request lines of a --debug run,
// normalised and sorted.
func refused(res proc.Result) []string {
	var lines []string
	for _, l := range real.RefusedRequests(string(res.Stderr)) {
		if l = normalise(l); !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

// retryWaits are Nix's jittered waits between attempts; the simulator's are
// fixed (sim.UnreachableRetryDelays).
var retryWaits = regexp.MustCompile(`retrying in \d+ ms`)

func TestFidelityRealiseHTTPStatuses(t *testing.T) {
	n := realtest.RequireNix(t)
	root := t.TempDir()
	// keeper keeps the shared components valid, so Nix too fetches one path
	// (the simulator's closures have no references; see TestFidelityRealise).
	fidelityClosure(t, root, "keeper", realtest.ClosureOpts{})
	p := fidelityClosure(t, root, "http", realtest.ClosureOpts{})
	cache := realtest.NewCache(t)
	cache.Publish(t, p)
	realtest.DeleteFromStore(t, p)
	hash := filepath.Base(p)[:32]

	for _, c := range []struct {
		name    string
		prefix  string
		status  int
		offer   func(o *sim.Offer)
		cacheSt int // the sim's nix-cache-info status
		first   pipeline.RealiseFailure
		final   pipeline.RealiseFailure // after the --debug diagnosis
	}{
		{"narinfo 401", "/" + hash + ".narinfo", 401, func(o *sim.Offer) { o.NarinfoStatus = 401 }, 0, pipeline.RealiseNotFound, pipeline.RealiseUnauthorized},
		{"narinfo 404", "/" + hash + ".narinfo", 404, func(o *sim.Offer) { o.NarinfoStatus = 404 }, 0, pipeline.RealiseNotFound, pipeline.RealiseNotFound},
		{"NAR 403", "/nar/", 403, func(o *sim.Offer) { o.NarStatus = 403 }, 0, pipeline.RealiseCorrupt, pipeline.RealiseUnauthorized},
		{"NAR 500", "/nar/", 500, func(o *sim.Offer) { o.NarStatus = 500 }, 0, pipeline.RealiseUnreachable, pipeline.RealiseUnreachable},
		{"nix-cache-info 401", "/nix-cache-info", 401, func(*sim.Offer) {}, 401, pipeline.RealiseUnreachable, pipeline.RealiseUnauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := faultyCache(t, cache.Dir(), c.prefix, c.status)
			h := sim.MustNewHost(sim.HostConfig{})
			o := sim.Offer{URL: srv.URL, SignedBy: cache.PublicKey()}
			c.offer(&o)
			h.MustAddClosure(sim.ClosureSpec{Basename: filepath.Base(p), Offers: []sim.Offer{o}})
			if c.cacheSt != 0 {
				h.SetCacheStatus(srv.URL, c.cacheSt)
			}
			tw := twin{real: proc.Exec{}, sim: h}
			// GOTCHA: Nix 2.8 keeps each binary cache's nix-cache-info in
			// ~/.cache/nix/binary-cache-v6.sqlite by URL and then skips the
			// request; a loopback port an earlier server used (this test, an
			// earlier run) would answer from there, so each case gets its own.
			env := append(slices.Clone(n.Env), "XDG_CACHE_HOME="+t.TempDir())
			be := real.New(real.Config{Substituters: []string{srv.URL}, TrustedPublicKeys: []string{cache.PublicKey()}, Env: env})

			r, s := tw.run(t, be.RealiseCmd(p, ""))
			r.Stderr, s.Stderr = retryWaits.ReplaceAll(r.Stderr, []byte("retrying in <ms> ms")), retryWaits.ReplaceAll(s.Stderr, []byte("retrying in <ms> ms"))
			sameRealise(t, r, s)
			assert.Equal(t, c.first, real.ClassifyRealise(string(r.Stderr)), "real, first run")
			if c.final == c.first && c.first != pipeline.RealiseNotFound {
				return
			}
			r, s = tw.run(t, be.DiagnoseRealiseCmd(p))
			assert.Equal(t, r.ExitCode, s.ExitCode, "exit code at --debug")
			// Nix asks for a file once per lookup (queryMissing and the goal
			// each ask: the same line up to three times); the simulator asks once.
			assert.Equal(t, refused(r), refused(s), "refused requests at --debug")
			final := c.first
			if len(real.RefusedRequests(string(r.Stderr))) > 0 {
				final = pipeline.RealiseUnauthorized
			}
			assert.Equal(t, c.final, final, "real, after the diagnosis")
		})
	}
}
