package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignaturePhrasingsByVersion(t *testing.T) {
	const p = "/nix/store/x"
	for version, want := range map[string][3]string{
		"2.3":  {"warning: substituter 'U' does not have", "because it lacks a valid signature", "cannot add path 'R' because it lacks a valid signature"},
		"2.5":  {"warning: substituter 'U' does not have", "because it lacks a valid signature", "cannot add path 'R'"},
		"2.6":  {"warning: the substitute for '" + p + "' from 'U' is not signed", "because it lacks a valid signature", "cannot add path 'R'"},
		"2.9":  {"warning: the substitute for", "lacks a valid signature", "cannot add path 'R'"},
		"2.10": {"warning: ignoring substitute for '" + p + "' from 'U', as it's not signed", "lacks a valid signature", "cannot add path 'R'"},
		"2.11": {"warning: ignoring substitute for", "because it lacks a valid signature", "cannot add path 'R'"},
		"2.12": {"warning: ignoring substitute for", "because it lacks a signature by a trusted key", "cannot register realisation 'R' because it lacks a signature by a trusted key"},
		"2.13": {"warning: ignoring substitute for", "because it lacks a signature by a trusted key", "cannot register realisation 'R'"},
	} {
		ph, err := NixPhrasing(version)
		require.NoError(t, err)
		assert.Contains(t, ph.UntrustedSubstitute(p, "U"), want[0], version)
		assert.Contains(t, ph.LacksSignature(p), want[1], version)
		assert.Contains(t, ph.RealisationLacksSignature("R"), want[2], version)
	}
}
