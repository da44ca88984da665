package real

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

const (
	closure = "/nix/store/0c5b8vw40d1178xlpddw65q9gf1h2186-nixos-system-web1-24.05"
	profile = "/nix/var/nix/profiles/system"
)

var fireReq = pipeline.FireRequest{Unit: "nixfleet-switch", Closure: closure, Action: pipeline.ActionSwitch}

var wantRunArgv = []string{"systemd-run",
	"--unit=nixfleet-switch",
	"--description=nixfleet-activate: switch-to-configuration switch of " + closure,
	"--remain-after-exit", "--service-type=exec", "--no-ask-password",
	"--", closure + "/bin/switch-to-configuration", "switch"}

func TestRealiseCmdWithoutOptionsPassesOnlyThePath(t *testing.T) {
	b := New(Config{})
	cmd := b.RealiseCmd(closure, "")
	assert.Equal(t, []string{"nix-store", "--realise", closure}, cmd.Argv)
	assert.Empty(t, cmd.Env)
}

func TestRealiseCmdJoinsSubstitutersAndKeysWithSpaces(t *testing.T) {
	b := New(Config{
		NixStore:          "/run/current-system/sw/bin/nix-store",
		Substituters:      []string{"https://cache.example", "file:///srv/cache"},
		TrustedPublicKeys: []string{"k1:AAAA", "k2:BBBB"},
		Env:               []string{"NIX_CONFIG=sandbox = false"},
	})
	cmd := b.RealiseCmd(closure, "")
	assert.Equal(t, []string{"/run/current-system/sw/bin/nix-store", "--realise", closure,
		"--option", "substituters", "https://cache.example file:///srv/cache",
		"--option", "trusted-public-keys", "k1:AAAA k2:BBBB"}, cmd.Argv)
	assert.Equal(t, []string{"NIX_CONFIG=sandbox = false"}, cmd.Env)
	assert.NotContains(t, cmd.Argv, "require-sigs")
}

func TestProfileCmds(t *testing.T) {
	b := New(Config{Env: []string{"NIX_CONFIG=x"}})
	set := b.SetProfileCmd(profile, closure)
	assert.Equal(t, []string{"nix-env", "--profile", profile, "--set", closure}, set.Argv)
	assert.Equal(t, []string{"NIX_CONFIG=x"}, set.Env)
	assert.Equal(t, []string{"nix-env", "--profile", profile, "--rollback"}, b.RollbackCmd(profile).Argv)
	assert.Equal(t, []string{"nix-env", "--profile", profile, "--list-generations"}, b.ListGenerationsCmd(profile).Argv)
}

func TestNixEnvIsNotSharedBetweenCommands(t *testing.T) {
	b := New(Config{Env: []string{"A=1"}})
	cmd := b.SetProfileCmd(profile, closure)
	cmd.Env[0] = "A=changed"
	assert.Equal(t, []string{"A=1"}, b.RollbackCmd(profile).Env)
}

func TestSystemdCmds(t *testing.T) {
	b := New(Config{})
	assert.Equal(t, []string{"systemctl", "show",
		"--property=LoadState,ActiveState,SubState,Result,ExecMainCode,ExecMainStatus,ExecMainPID",
		"--", "nixfleet-switch.service"}, b.UnitStatusCmd("nixfleet-switch").Argv)
	assert.Equal(t, []string{"systemctl", "stop", "--", "nixfleet-switch.service"}, b.StopCmd("nixfleet-switch").Argv)
	assert.Equal(t, []string{"systemctl", "reset-failed", "--", "nixfleet-switch.service"}, b.ResetFailedCmd("nixfleet-switch").Argv)
	run := b.RunCmd(fireReq)
	assert.Equal(t, wantRunArgv, run.Argv)
	assert.NotContains(t, run.Argv, "--collect")
	assert.Empty(t, run.Env)
}

func TestSwitchProgramIgnoresTrailingSlash(t *testing.T) {
	assert.Equal(t, closure+"/bin/switch-to-configuration", SwitchProgram(closure+"/"))
}

func TestNewFillsDefaults(t *testing.T) {
	b := New(Config{})
	assert.Equal(t, DefaultRealiseTimeout, b.cfg.RealiseTimeout)
	assert.Equal(t, DefaultCommandTimeout, b.cfg.CommandTimeout)
	assert.Equal(t, proc.Exec{}, b.cfg.Runner)
	assert.Equal(t, Flock{}, b.cfg.Locker)
	assert.NotNil(t, b.cfg.Logger)
}
