package main

import "runtime/debug"

// version is the release this binary was built from, stamped by the Nix
// package (nix/package.nix) and `make build` with -ldflags
// "-X main.version=VERSION"; "dev" in a plain go build or go install, where
// versionString falls back to what the Go toolchain recorded.
var version = "dev"

// versionString is what `nixfleet-activate --version` prints: the stamped
// version, else the module version or VCS revision the Go toolchain
// embedded (Go 1.18+ records vcs.revision and vcs.modified when it builds
// inside a git checkout), else "dev".
func versionString() string {
	info, _ := debug.ReadBuildInfo()
	return versionFrom(version, info)
}

// versionFrom picks the version from the stamp and the build info (nil:
// none): a stamp other than "dev" wins; then a module version other than
// "(devel)" (go install MODULE@VERSION); then "dev-<12-digit revision>",
// with "-dirty" when the tree had changes.
func versionFrom(stamp string, info *debug.BuildInfo) string {
	if stamp != "dev" || info == nil {
		return stamp
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision, dirty string
	for _, s := range info.Settings {
		switch {
		case s.Key == "vcs.revision":
			revision = s.Value
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = "-dirty"
		}
	}
	if revision == "" {
		return stamp
	}
	return "dev-" + revision[:min(12, len(revision))] + dirty
}
