package testscripts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// installRecipeDocs are the documents that tell a fleet how to get the
// binary or the module for its scenario suite.
var installRecipeDocs = []string{
	filepath.Join("..", "README.md"),
	filepath.Join("..", "examples", "fleet-suite", "README.md"),
	filepath.Join("..", "examples", "gotest-suite", "README.md"),
}

// TestInstallRecipesWork: the module is not on the public Go proxy, so a
// recipe of `go install <module>/...@latest` (or any @version through the
// proxy) fails for every reader; the recipes build from a checkout
// (`go install ./cmd/nixfleet-activate`), and that package exists.
func TestInstallRecipesWork(t *testing.T) {
	const modulePath = "github.com/nixfleet/nixfleet-activate"
	for _, doc := range installRecipeDocs {
		text, err := os.ReadFile(doc)
		require.NoError(t, err)
		for _, line := range strings.Split(string(text), "\n") {
			if strings.Contains(line, "go install "+modulePath) {
				t.Errorf("%s: %q installs through the public proxy, which does not serve this module", doc, line)
			}
		}
	}
	readme, err := os.ReadFile(installRecipeDocs[0])
	require.NoError(t, err)
	assert.Contains(t, string(readme), "go install ./cmd/nixfleet-activate")
	_, err = os.Stat(filepath.Join("..", "cmd", "nixfleet-activate", "main.go"))
	assert.NoError(t, err, "the recipe's package ./cmd/nixfleet-activate exists")
}
