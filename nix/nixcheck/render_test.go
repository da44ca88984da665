package nixcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// renderUnit writes a unit as the unit file NixOS would install: [Unit]
// then [Service], keys sorted, one line per value; Environment values are
// double-quoted (systemd.exec(5)) since they may hold spaces.
func renderUnit(u unitDef) string {
	var b strings.Builder
	writeSection(&b, "Unit", u.Unit)
	b.WriteString("\n")
	writeSection(&b, "Service", u.Service)
	return b.String()
}

func writeSection(b *strings.Builder, name string, keys map[string][]string) {
	fmt.Fprintf(b, "[%s]\n", name)
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range keys[k] {
			if k == "Environment" {
				v = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
			}
			fmt.Fprintf(b, "%s=%s\n", k, v)
		}
	}
}

// installUnits writes the evaluation's units, their wantedBy links and its
// tmpfiles lines under root, where NixOS puts them (/etc/systemd/system,
// TARGET.wants/UNIT links, /etc/tmpfiles.d), so that a systemd booting root
// loads them.
func installUnits(t testing.TB, root string, ev evaluation) {
	t.Helper()
	unitDir := filepath.Join(root, "etc", "systemd", "system")
	for name, u := range ev.Units {
		writeFile(t, filepath.Join(unitDir, name), renderUnit(u))
		for _, target := range u.WantedBy {
			wants := filepath.Join(unitDir, target+".wants")
			require.NoError(t, os.MkdirAll(wants, 0o755))
			require.NoError(t, os.Symlink("/etc/systemd/system/"+name, filepath.Join(wants, name)))
		}
	}
	writeFile(t, filepath.Join(root, "etc", "tmpfiles.d", "nixfleet-activate.conf"), strings.Join(ev.Tmpfiles, "\n")+"\n")
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

// TestRenderUnit pins the renderer the container check relies on.
func TestRenderUnit(t *testing.T) {
	got := renderUnit(unitDef{
		Unit:    map[string][]string{"Description": {"Activate %I"}, "After": {"a.target b.service"}},
		Service: map[string][]string{"Type": {"oneshot"}, "Environment": {`PATH=/a b`, `X="q"`}, "ExecStart": {"/bin/x %I"}},
	})
	assert.Equal(t, "[Unit]\nAfter=a.target b.service\nDescription=Activate %I\n\n"+
		"[Service]\nEnvironment=\"PATH=/a b\"\nEnvironment=\"X=\\\"q\\\"\"\nExecStart=/bin/x %I\nType=oneshot\n", got)
}
