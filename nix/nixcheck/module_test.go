package nixcheck

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// evaluation is what nix/tests/eval.nix returns.
type evaluation struct {
	Options map[string]struct {
		Type    string `json:"type"`
		Default any    `json:"default"`
	} `json:"options"`
	Units          map[string]unitDef `json:"units"`
	Tmpfiles       []string           `json:"tmpfiles"`
	SystemPackages []string           `json:"systemPackages"`
	// SystemBuilderCommands are the module's system.systemBuilderCommands.
	SystemBuilderCommands string `json:"systemBuilderCommands"`
}

// unitDef is one unit as NixOS would render it: section -> key -> values
// (a key with several values is written once per value).
type unitDef struct {
	WantedBy []string            `json:"wantedBy"`
	Unit     map[string][]string `json:"unit"`
	Service  map[string][]string `json:"service"`
}

// one returns the single value of key in section, failing t otherwise.
func one(t testing.TB, section map[string][]string, key string) string {
	t.Helper()
	require.Len(t, section[key], 1, "%s", key)
	return section[key][0]
}

// evalModule evaluates nix/module.nix with config (a module, marshalled to
// JSON) and returns the result; an evaluation error is returned, not failed.
func evalModule(t testing.TB, config any) (evaluation, error) {
	t.Helper()
	nixInstantiate := requireTool(t, "nix-instantiate")
	lib := nixpkgsLib(t)
	cfg, err := json.Marshal(config)
	require.NoError(t, err)
	stdout, stderr, err := runTool(nixInstantiate, "--eval", "--strict", "--json",
		filepath.Join(repoRoot(t), "nix", "tests", "eval.nix"),
		"--argstr", "nixpkgsLib", lib, "--argstr", "config", string(cfg))
	if err != nil {
		return evaluation{}, &evalError{err: err, stderr: string(stderr)}
	}
	var ev evaluation
	require.NoError(t, json.Unmarshal(stdout, &ev), "%s", stdout)
	return ev, nil
}

type evalError struct {
	err    error
	stderr string
}

func (e *evalError) Error() string { return e.err.Error() + "\n" + e.stderr }

// mustEval is evalModule failing t on an evaluation error.
func mustEval(t testing.TB, config any) evaluation {
	t.Helper()
	ev, err := evalModule(t, config)
	require.NoError(t, err)
	return ev
}

// service is the module config {services.nixfleet-activate = opts}.
func service(opts map[string]any) map[string]any {
	return map[string]any{"services": map[string]any{"nixfleet-activate": opts}}
}

const (
	stubPackage = "/nix/store/00000000000000000000000000000000-nixfleet-activate-stub"
	stubNix     = "/nix/store/00000000000000000000000000000000-nix-stub"
	stubSystemd = "/nix/store/00000000000000000000000000000000-systemd-stub"

	activateUnit = "nixfleet-activate@.service"
	recoverUnit  = "nixfleet-activate-recover.service"
)

// TestModuleOptions: the option set, each type and default; the defaults
// are the binary's own (pipeline's constants).
func TestModuleOptions(t *testing.T) {
	ev := mustEval(t, map[string]any{})
	duration := "string matching the pattern ([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+"
	want := map[string][2]any{
		"enable":            {"boolean", false},
		"package":           {"package", stubPackage},
		"substituters":      {"list of string", []any{}},
		"trustedPublicKeys": {"list of string", []any{}},
		"stateDir":          {"string matching the pattern /.+", pipeline.DefaultStateDir},
		"pollInterval":      {duration, "2s"},
		"pollBudget":        {duration, "300s"},
		"onFailure":         {`null or one of "restore", "keep"`, nil},
		"metricsFile":       {"null or string matching the pattern /.+", nil},
		"logFormat":         {`one of "auto", "text", "json"`, "json"},
		"logLevel":          {`one of "debug", "info", "warn", "error"`, "info"},
		"recoverOnBoot":     {"boolean", true},
		"extraFlags":        {"list of string", []any{}},
		"healthChecks":      {"attribute set of (submodule)", map[string]any{}},
	}
	got := map[string][2]any{}
	for name, o := range ev.Options {
		got[name] = [2]any{o.Type, o.Default}
	}
	assert.Equal(t, want, got)
	assert.Equal(t, pipeline.DefaultPollInterval, parseDuration(t, ev.Options["pollInterval"].Default))
	assert.Equal(t, pipeline.DefaultPollBudget, parseDuration(t, ev.Options["pollBudget"].Default))
	assert.Empty(t, ev.Units, "disabled: no units")
	assert.Empty(t, ev.Tmpfiles)
	assert.Empty(t, ev.SystemPackages)
}

func parseDuration(t testing.TB, v any) time.Duration {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "%v", v)
	d, err := time.ParseDuration(s)
	require.NoError(t, err)
	return d
}

// commonWords are ExecStart's words before the subcommand with the defaults.
var commonWords = []string{stubPackage + "/bin/nixfleet-activate",
	"--log-format=json", "--log-level=info", "--state-dir=/var/lib/nixfleet-activate",
	"--poll-interval=2s", "--poll-budget=300s"}

// hardening is the sandboxing both units get (nix/module.nix says why each
// setting cannot stop the agent).
var hardening = map[string][]string{
	"NoNewPrivileges":         {"true"},
	"ProtectSystem":           {"full"},
	"ProtectKernelTunables":   {"true"},
	"ProtectKernelModules":    {"true"},
	"ProtectKernelLogs":       {"true"},
	"ProtectControlGroups":    {"true"},
	"RestrictAddressFamilies": {"AF_UNIX AF_INET AF_INET6 AF_NETLINK"},
	"RestrictRealtime":        {"true"},
	"RestrictSUIDSGID":        {"true"},
	"LockPersonality":         {"true"},
}

func withHardening(service map[string][]string) map[string][]string {
	for k, v := range hardening {
		service[k] = v
	}
	return service
}

// TestModuleUnitsDefaults: enabled with defaults, the module makes exactly
// the activation template, the recover unit and the tmpfiles line, with
// these settings.
func TestModuleUnitsDefaults(t *testing.T) {
	ev := mustEval(t, service(map[string]any{"enable": true}))
	path := "PATH=" + stubNix + "/bin:" + stubSystemd + "/bin:" + stubNix + "/sbin:" + stubSystemd + "/sbin"
	want := map[string]unitDef{
		activateUnit: {
			WantedBy: []string{},
			Unit: map[string][]string{
				"Description":        {"Activate system closure %I"},
				"After":              {"network-online.target nix-daemon.socket nixfleet-activate-recover.service"},
				"Wants":              {"network-online.target"},
				"X-RestartIfChanged": {"false"},
				"X-StopIfChanged":    {"false"},
			},
			Service: withHardening(map[string][]string{
				"Type":              {"oneshot"},
				"Environment":       {path},
				"ExecStart":         {strings.Join(append(commonWords, "activate", "%I"), " ")},
				"SuccessExitStatus": {"9"}, // deferred-pending-reboot
			}),
		},
		recoverUnit: {
			WantedBy: []string{"multi-user.target"},
			Unit: map[string][]string{
				"Description":        {"Resolve an unfinished nixfleet-activate run"},
				"After":              {"nix-daemon.socket nix-daemon.service"},
				"X-RestartIfChanged": {"false"},
				"X-StopIfChanged":    {"false"},
			},
			Service: withHardening(map[string][]string{
				"Type":            {"oneshot"},
				"RemainAfterExit": {"true"},
				"Environment":     {path},
				"ExecStart":       {strings.Join(append(commonWords, "recover"), " ")},
				// switch-failed, verify-mismatch, deferred-pending-reboot,
				// settled-degraded, abandoned: resolved, record removed.
				"SuccessExitStatus": {"7 8 9 10 12"},
			}),
		},
	}
	assert.Equal(t, want, ev.Units)
	assert.Equal(t, []string{"d /var/lib/nixfleet-activate 0700 root root - -"}, ev.Tmpfiles)
	assert.Equal(t, []string{stubPackage}, ev.SystemPackages, "on PATH for status and rollback")
}

// TestModuleUnitsOptions: every option reaches the command line, as single
// words in a fixed order, quoted for systemd where needed; recoverOnBoot
// false drops the recover unit.
func TestModuleUnitsOptions(t *testing.T) {
	ev := mustEval(t, service(map[string]any{
		"enable":            true,
		"package":           map[string]any{"type": "derivation", "outPath": "/opt/nfa"},
		"substituters":      []string{"https://a.example", "file:///srv/cache"},
		"trustedPublicKeys": []string{"a.example-1:AAAA+/=="},
		"stateDir":          "/srv/state",
		"pollInterval":      "500ms",
		"pollBudget":        "10m",
		"onFailure":         "keep",
		"metricsFile":       "/var/lib/textfiles/nixfleet-activate.prom",
		"logFormat":         "text",
		"logLevel":          "debug",
		"recoverOnBoot":     false,
		"extraFlags":        []string{"--meta=who=100% $USER", "--realise-timeout=1m"},
	}))
	require.Contains(t, ev.Units, activateUnit)
	assert.NotContains(t, ev.Units, recoverUnit)
	exec := one(t, ev.Units[activateUnit].Service, "ExecStart")
	assert.Equal(t, `/opt/nfa/bin/nixfleet-activate --log-format=text --log-level=debug --state-dir=/srv/state `+
		`--poll-interval=500ms --poll-budget=10m "--substituters=https://a.example file:///srv/cache" `+
		`--trusted-public-keys=a.example-1:AAAA+/== --on-failure=keep --metrics-file=/var/lib/textfiles/nixfleet-activate.prom "--meta=who=100%% $$USER" --realise-timeout=1m activate %I`, exec)
	assert.Equal(t, []string{"/opt/nfa/bin/nixfleet-activate", "--log-format=text", "--log-level=debug",
		"--state-dir=/srv/state", "--poll-interval=500ms", "--poll-budget=10m",
		"--substituters=https://a.example file:///srv/cache", "--trusted-public-keys=a.example-1:AAAA+/==",
		"--on-failure=keep", "--metrics-file=/var/lib/textfiles/nixfleet-activate.prom", "--meta=who=100% $USER", "--realise-timeout=1m", "activate", "%I"},
		execWords(t, exec), "the words systemd hands the binary")
	assert.Equal(t, []string{"d /srv/state 0700 root root - -"}, ev.Tmpfiles)
}

// TestModuleRejectsBadValues: values the binary would refuse are refused at
// evaluation.
func TestModuleRejectsBadValues(t *testing.T) {
	for name, opts := range map[string]map[string]any{
		"duration with a space": {"pollInterval": "2 s"},
		"negative budget":       {"pollBudget": "-5s"},
		"unknown onFailure":     {"onFailure": "rollback"},
		"relative stateDir":     {"stateDir": "var/lib/x"},
		"unknown logFormat":     {"logFormat": "xml"},
	} {
		t.Run(name, func(t *testing.T) {
			opts["enable"] = true
			_, err := evalModule(t, service(opts))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "is not of type")
		})
	}
}

// execWords splits an ExecStart= value into the words systemd passes
// (systemd.service(5), "Command lines": white space separates words, double
// quotes group them with C escapes \" and \\, %% is %, $$ is $). %I and
// other specifiers are left as they are.
func execWords(t testing.TB, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case quoted && c == '"':
			quoted = false
		case !quoted && c == '"':
			quoted, inWord = true, true
		case !quoted && c == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case (c == '%' || c == '$') && i+1 < len(s) && s[i+1] == c:
			i++
			cur.WriteByte(c)
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	require.False(t, quoted, "unterminated quote in %q", s)
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
