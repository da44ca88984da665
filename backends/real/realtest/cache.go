package realtest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// Cache is a local file:// binary cache in a test's temporary directory,
// signed with its own fresh key unless made by NewUnsignedCache.
type Cache struct {
	nix       *Nix
	dir       string // the cache's root: nix-cache-info, *.narinfo, nar/
	secretKey string // file holding the secret key; "" for an unsigned cache
	publicKey string // "<name>:<base64>"; "" for an unsigned cache
}

var keySeq atomic.Int64

// NewCache creates an empty binary cache directory under t.TempDir() and a
// fresh signing key pair (`nix-store --generate-binary-cache-key`, key name
// "nixfleet-test-<pid>-<n>"). Paths published to it carry a signature by that key.
func NewCache(t testing.TB) *Cache {
	t.Helper()
	c := NewUnsignedCache(t)
	c.secretKey, c.publicKey = generateKey(t, c.nix)
	return c
}

// NewUnsignedCache creates an empty binary cache whose Publish copies paths
// without any signature (Nix 2.8 (Debian nix-bin) then refuses them with the
// "is not signed by any of the keys in 'trusted-public-keys'" warning).
// PublicKey returns "".
func NewUnsignedCache(t testing.TB) *Cache {
	t.Helper()
	n := RequireNix(t)
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &Cache{nix: n, dir: dir}
}

// WrongPublicKey returns the public key ("<name>:<base64>") of a fresh key
// pair that signs nothing: trusting only it makes every substitution from a
// signed Cache fail the signature check.
func WrongPublicKey(t testing.TB) string {
	t.Helper()
	_, pub := generateKey(t, RequireNix(t))
	return pub
}

func generateKey(t testing.TB, n *Nix) (secretFile, publicKey string) {
	t.Helper()
	dir := t.TempDir()
	name := fmt.Sprintf("nixfleet-test-%d-%d", os.Getpid(), keySeq.Add(1))
	secretFile, publicFile := filepath.Join(dir, "secret.pem"), filepath.Join(dir, "public.pem")
	n.MustRun(t, "nix-store", "--generate-binary-cache-key", name, secretFile, publicFile)
	pub, err := os.ReadFile(publicFile)
	if err != nil {
		t.Fatal(err)
	}
	return secretFile, strings.TrimSpace(string(pub))
}

// URL is the substituter URL, "file://<dir>".
func (c *Cache) URL() string { return "file://" + c.dir }

// Dir is the cache's directory on this machine.
func (c *Cache) Dir() string { return c.dir }

// PublicKey is the key to trust ("<name>:<base64>"), "" for an unsigned cache.
func (c *Cache) PublicKey() string { return c.publicKey }

// SubstituterOptions returns the nix-store arguments that make c the only
// substituter and trust exactly trustedKey (pass c.PublicKey(), a
// WrongPublicKey, or "" for no trusted key at all):
// --option substituters URL --option trusted-public-keys KEY.
func (c *Cache) SubstituterOptions(trustedKey string) []string {
	return []string{"--option", "substituters", c.URL(), "--option", "trusted-public-keys", trustedKey}
}

// Publish copies storePath and its closure into the cache with
// `nix copy --to file://<dir>?secret-key=<file>`, signing each path (the
// secret-key parameter is left out for an unsigned cache). Fails t on error.
func (c *Cache) Publish(t testing.TB, storePath string) {
	t.Helper()
	to := c.URL()
	if c.secretKey != "" {
		to += "?secret-key=" + c.secretKey
	}
	c.nix.MustRun(t, "nix", "--extra-experimental-features", "nix-command", "copy", "--to", to, storePath)
}

// NARFile returns the absolute file name of storePath's compressed NAR in the
// cache, read from the URL field of its narinfo; fails t when the path was not
// published.
func (c *Cache) NARFile(t testing.TB, storePath string) string {
	t.Helper()
	info := filepath.Join(c.dir, storeHash(storePath)+".narinfo")
	data, err := os.ReadFile(info)
	if err != nil {
		t.Fatalf("%s not published: %v", storePath, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if url, ok := strings.CutPrefix(sc.Text(), "URL: "); ok {
			return filepath.Join(c.dir, filepath.FromSlash(url))
		}
	}
	t.Fatalf("%s: no URL line", info)
	return ""
}

// ReplaceNAR overwrites victim's NAR in the cache with donor's (both must be
// published), keeping victim's narinfo and signature: substituting victim
// then fails with Nix 2.8's "hash mismatch importing path".
func (c *Cache) ReplaceNAR(t testing.TB, victim, donor string) {
	t.Helper()
	data, err := os.ReadFile(c.NARFile(t, donor))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.NARFile(t, victim), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// RemoveNAR deletes storePath's NAR but keeps its narinfo: substituting it
// then fails with Nix 2.8's "file 'nar/<x>.nar.xz' does not exist in binary
// cache".
func (c *Cache) RemoveNAR(t testing.TB, storePath string) {
	t.Helper()
	if err := os.Remove(c.NARFile(t, storePath)); err != nil {
		t.Fatal(err)
	}
}

// storeHash returns the 32-character hash part of a store path's basename.
func storeHash(storePath string) string {
	base := filepath.Base(storePath)
	if len(base) < 32 {
		return base
	}
	return base[:32]
}
