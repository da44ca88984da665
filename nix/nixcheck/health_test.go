package nixcheck

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// builderOf evaluates the module with opts and returns its system builder
// lines.
func builderOf(t *testing.T, opts map[string]any) string {
	t.Helper()
	ev, err := evalModule(t, service(opts))
	require.NoError(t, err)
	return ev.SystemBuilderCommands
}

// TestModuleHealthChecksBuildTheLayout: healthChecks become, in the system
// closure, the manifest and the executables the agent reads
// (pipeline.HealthManifest, pipeline.HealthChecks): the builder lines are
// run with $out a temporary directory and the result decoded as the agent
// decodes it.
func TestModuleHealthChecksBuildTheLayout(t *testing.T) {
	builder := builderOf(t, map[string]any{"enable": true, "healthChecks": map[string]any{
		"web": map[string]any{"script": "echo \"it's up\"; exit 0", "timeout": 5},
		"db":  map[string]any{"script": "exit 3"},
	}})
	out := t.TempDir()
	cmd := exec.Command("/bin/sh", "-c", builder)
	cmd.Env = append(os.Environ(), "out="+out)
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", msg)

	data, err := os.ReadFile(filepath.Join(out, pipeline.HealthManifest))
	require.NoError(t, err)
	var m pipeline.Manifest
	require.NoError(t, json.Unmarshal(data, &m))
	assert.Equal(t, []pipeline.CheckSpec{{Name: "db", TimeoutS: 30}, {Name: "web", TimeoutS: 5}}, m.Checks)

	web := filepath.Join(out, pipeline.HealthChecks, "web")
	info, err := os.Stat(web)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o555), info.Mode().Perm())
	got, err := exec.Command(web).Output()
	require.NoError(t, err)
	assert.Equal(t, "it's up\n", string(got))
	err = exec.Command(filepath.Join(out, pipeline.HealthChecks, "db")).Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 3, exit.ExitCode())
}

// TestModuleWithoutHealthChecksLeavesTheClosure: no checks, no builder
// lines: closures stay as they were before issue 18.
func TestModuleWithoutHealthChecksLeavesTheClosure(t *testing.T) {
	assert.Empty(t, builderOf(t, map[string]any{"enable": true}))
}

// TestModuleRejectsBadCheckName: a check name outside [A-Za-z0-9_-] fails
// evaluation (it becomes a file and a unit name).
func TestModuleRejectsBadCheckName(t *testing.T) {
	ev, err := evalModule(t, service(map[string]any{"enable": true,
		"healthChecks": map[string]any{"../x": map[string]any{"script": "true"}}}))
	if err == nil {
		t.Fatalf("evaluated: %q", ev.SystemBuilderCommands)
	}
	assert.Contains(t, err.Error(), "bad check name")
}
