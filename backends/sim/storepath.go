package sim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
)

// StoreDir is the Nix store directory of the simulated host.
const StoreDir = "/nix/store"

// Nix 2.8 store path syntax (libstore/path.cc), as observed with Debian
// nix-bin: a 32-character hash in Nix's base-32 alphabet, then the name.
const (
	hashLen     = 32
	maxNameLen  = 211
	nixBase32   = "0123456789abcdfghijklmnpqrsvwxyz"
	storeNameOK = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-._?="
)

// FakeBasename returns a deterministic, syntactically valid store path
// basename "<hash>-<name>", the hash derived from name and variant (the
// same pair always gives the same basename, different variants give
// different hashes, as an extra derivation attribute does in a real build).
func FakeBasename(name, variant string) string {
	return fakeHash(name+"\x00"+variant) + "-" + name
}

// fakeHash maps seed to 32 characters of Nix's base-32 alphabet.
func fakeHash(seed string) string { return base32Digest(seed, hashLen) }

// sha256Base32 maps seed to 52 characters of Nix's base-32 alphabet, the
// length of a sha256 hash in Nix's base-32.
func sha256Base32(seed string) string { return base32Digest(seed, 52) }

func base32Digest(seed string, n int) string {
	var b strings.Builder
	for block := 0; b.Len() < n; block++ {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s", block, seed)))
		for _, c := range sum {
			if b.Len() == n {
				break
			}
			b.WriteByte(nixBase32[c%32])
		}
	}
	return b.String()
}

// storePathArg is what Nix 2.8 makes of a path argument of nix-store
// --realise or nix-env --set.
type storePathArg struct {
	// basename of the store path the argument lies in ("PATH/bin/x" and
	// "PATH/" name PATH's basename).
	basename string
	// errLine is the Nix 2.8 error line when the argument is rejected.
	errLine string
}

// parseStorePathArg follows Nix 2.8 (observed): relative arguments are
// taken from cwd "/"; a path outside the store gives "getting status of"
// when missing and "is not in the Nix store" otherwise; the store
// directory itself is "not in the Nix store"; the basename is then checked
// for length, hash alphabet and name characters, in that order. The
// character after the hash is not checked (Nix 2.8 accepts "<hash>Xname").
func parseStorePathArg(arg string, exists func(string) bool) storePathArg {
	p := path.Clean(path.Join("/", arg))
	rest, inStore := strings.CutPrefix(p, StoreDir+"/")
	if !inStore {
		if !exists(p) {
			return storePathArg{errLine: fmt.Sprintf("error: getting status of '%s': No such file or directory", p)}
		}
		return storePathArg{errLine: fmt.Sprintf("error: path '%s' is not in the Nix store", p)}
	}
	base, _, _ := strings.Cut(rest, "/")
	return storePathArg{basename: base, errLine: checkBasename(base)}
}

// checkBasename returns the Nix 2.8 error line for a bad basename, "" when
// it is valid.
func checkBasename(base string) string {
	if len(base) < hashLen+1 {
		return fmt.Sprintf("error: '%s' is too short to be a valid store path", base)
	}
	for _, c := range base[:hashLen] {
		if !strings.ContainsRune(nixBase32, c) {
			return fmt.Sprintf("error: store path '%s' contains illegal base-32 character '%c'", base, c)
		}
	}
	name := base[hashLen+1:]
	switch {
	case name == "":
		return fmt.Sprintf("error: store path '%s' has an empty name", base)
	case len(name) > maxNameLen:
		return fmt.Sprintf("error: store path '%s' has a name longer than %d characters", base, maxNameLen)
	}
	for _, c := range name {
		if !strings.ContainsRune(storeNameOK, c) {
			return fmt.Sprintf("error: store path '%s' contains illegal character '%c'", base, c)
		}
	}
	return ""
}

// storePath joins the store directory and a basename.
func storePath(basename string) string { return StoreDir + "/" + basename }

// sha256Hex is the hex sha256 of seed.
func sha256Hex(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return hex.EncodeToString(sum[:])
}

// fakeKeyMaterial is 32 bytes derived from name, base64-encoded as an
// ed25519 public key is (44 characters).
func fakeKeyMaterial(name string) string {
	sum := sha256.Sum256([]byte("key\x00" + name))
	return base64.StdEncoding.EncodeToString(sum[:])
}
