package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVersionFromStampModuleOrRevision(t *testing.T) {
	rev := []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}
	for _, c := range []struct {
		name, stamp string
		info        *debug.BuildInfo
		want        string
	}{
		{"stamped", "v1.2.0", &debug.BuildInfo{Main: debug.Module{Version: "v9"}}, "v1.2.0"},
		{"no build info", "dev", nil, "dev"},
		{"go install MODULE@VERSION", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}}, "v0.3.0"},
		{"checkout with changes", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: rev}, "dev-0123456789ab-dirty"},
		{"no VCS", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
	} {
		assert.Equal(t, c.want, versionFrom(c.stamp, c.info), c.name)
	}
}
