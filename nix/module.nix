# NixOS module: services.nixfleet-activate.
#
# Defines
#   - nixfleet-activate@.service, the activation template: one instance per
#     request, the instance name being the systemd-escaped closure basename:
#       systemctl start "nixfleet-activate@$(systemd-escape BASENAME).service"
#   - nixfleet-activate-recover.service, the boot-time `recover` oneshot;
#   - the state directory (tmpfiles, 0700 root);
#   - with healthChecks, the closure's own health checks (issue 18): the
#     system builder writes nixfleet-activate/health.json
#     ({"checks":[{"name":N,"timeout_s":S}]}) and
#     nixfleet-activate/health-checks/<name> (each check's script) into the
#     closure, where the agent runs them after the switch settles.
#
# The binary's flags are passed as single words `--name=value`; the option
# descriptions name the flag each one sets. Exit statuses are those of
# cmd/nixfleet-activate (README, "Outcome").
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib) mkOption types;
  cfg = config.services.nixfleet-activate;

  # Go time.ParseDuration syntax (what the binary's duration flags accept),
  # without signs: "2s", "1m30s", "500ms".
  goDuration = types.strMatching "([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+";

  # One ExecStart word. systemd splits ExecStart= on white space, honours
  # C-style double quotes, expands $VAR and %-specifiers: a word with anything
  # outside the plain set is JSON-quoted (a subset of systemd's C escapes),
  # and % and $ are doubled so they stay literal.
  execWord =
    word:
    if builtins.match "[A-Za-z0-9_./:=@+,-]+" word != null then
      word
    else
      builtins.replaceStrings [ "%" "$" ] [ "%%" "$$" ] (builtins.toJSON word);

  # Flags common to every invocation, in a fixed order.
  commonFlags =
    [
      "--log-format=${cfg.logFormat}"
      "--log-level=${cfg.logLevel}"
      "--state-dir=${cfg.stateDir}"
      "--poll-interval=${cfg.pollInterval}"
      "--poll-budget=${cfg.pollBudget}"
    ]
    ++ lib.optional (cfg.substituters != [ ]) "--substituters=${lib.concatStringsSep " " cfg.substituters}"
    ++ lib.optional (
      cfg.trustedPublicKeys != [ ]
    ) "--trusted-public-keys=${lib.concatStringsSep " " cfg.trustedPublicKeys}"
    # --on-failure (issue 9) is passed only when set, so the module also works
    # with a binary that predates the flag.
    ++ lib.optional (cfg.onFailure != null) "--on-failure=${cfg.onFailure}"
    # --metrics-file (issue 12), only when set, as --on-failure.
    ++ lib.optional (cfg.metricsFile != null) "--metrics-file=${cfg.metricsFile}"
    ++ cfg.extraFlags;

  # ExecStart= of `nixfleet-activate ARGS...`; trailing is added unquoted
  # (it may hold %-specifiers such as %I).
  execStart =
    trailing:
    lib.concatStringsSep " " (
      [ (execWord "${cfg.package}/bin/nixfleet-activate") ] ++ map execWord commonFlags ++ trailing
    );

  # Exit statuses that do not fail the activation instance: 9
  # deferred-pending-reboot (the closure is the boot default; the reboot is
  # the operator's). 4 skipped (nothing changed, retry) and 10
  # settled-degraded (live, but the switch reported failed units, as
  # nixos-rebuild's exit 4) fail it, like every other outcome but settled.
  activateSuccessExits = [ 9 ];

  # Exit statuses with which `recover` has resolved an earlier run and
  # removed its record, whatever that run's outcome (recover exits with it):
  # 7 switch-failed/rollback-failed, 8 verify-mismatch, 9
  # deferred-pending-reboot, 10 settled-degraded/rollback-degraded, 12
  # abandoned. The recover unit then stays active (RemainAfterExit). Only 1
  # (internal error), 2 (usage) and 11 (interrupted: the record is kept) fail
  # it.
  recoverSuccessExits = [
    7
    8
    9
    10
    12
  ];

  exitList = codes: lib.concatMapStringsSep " " toString codes;

  # Health checks (issue 18): the manifest and the scripts, written by the
  # system builder into $out/nixfleet-activate. A check's name is its file
  # name and its transient unit's suffix, so it is held to the names the
  # agent accepts ([A-Za-z0-9_-], 1 to 64 characters).
  checkName =
    name:
    lib.throwIfNot (
      builtins.match "[A-Za-z0-9_-]{1,64}" name != null
    ) "services.nixfleet-activate.healthChecks: bad check name ${builtins.toJSON name}" name;
  healthManifest = builtins.toJSON {
    checks = lib.mapAttrsToList (name: c: {
      name = checkName name;
      timeout_s = c.timeout;
    }) cfg.healthChecks;
  };
  healthBuilder = ''
    mkdir -p $out/nixfleet-activate/health-checks
    printf '%s\n' ${lib.escapeShellArg healthManifest} > $out/nixfleet-activate/health.json
  ''
  + lib.concatStrings (
    lib.mapAttrsToList (name: c: ''
      printf '%s\n' ${
        lib.escapeShellArg "#!${pkgs.runtimeShell}\nset -eu\n${c.script}"
      } > $out/nixfleet-activate/health-checks/${checkName name}
      chmod 0555 $out/nixfleet-activate/health-checks/${checkName name}
    '') cfg.healthChecks
  );

  # Hardening for both units. Everything the agent starts runs with it too
  # (nix-store --realise may build as root with a local store), while
  # switch-to-configuration runs in a transient unit of systemd's and gets
  # none of it. Each setting, and why it cannot stop the agent:
  hardening = {
    # The agent runs as root and needs no setuid programs.
    NoNewPrivileges = true;
    # /usr, /boot, /efi and /etc read-only: the agent writes /nix (store,
    # system profile), /run (switch lock) and the state directory only;
    # the boot loader is updated by switch-to-configuration in its own unit.
    # Not "strict": Nix writes ~root/.cache/nix and /nix/var.
    ProtectSystem = "full";
    # No writes to /proc/sys and /sys, no module loading, no kernel log, no
    # cgroup tree writes: none is the agent's business (systemd-run asks
    # PID 1 to make the cgroup of the transient unit).
    ProtectKernelTunables = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectControlGroups = true;
    # Sockets: local (D-Bus, the Nix daemon, systemd's private socket),
    # IPv4/IPv6 (substituters) and netlink (glibc's getaddrinfo asks the
    # kernel for the configured addresses).
    RestrictAddressFamilies = "AF_UNIX AF_INET AF_INET6 AF_NETLINK";
    RestrictRealtime = true;
    RestrictSUIDSGID = true;
    LockPersonality = true;
    # Not set, on purpose: ProtectHome (nix-env and Nix write under
    # ~root), PrivateTmp (would hide --root test trees and file://
    # substituters under /tmp), PrivateDevices, MemoryDenyWriteExecute and
    # SystemCallFilter (inherited by builders that nix-store may run),
    # CapabilityBoundingSet (the Nix store needs root's capabilities),
    # PrivateNetwork (substituters).
  };

  # Nix and systemd of this host: nix-store and nix-env, systemd-run and
  # systemctl (the binary's PATH needs).
  agentPath = [
    config.nix.package
    config.systemd.package
  ];
in
{
  options.services.nixfleet-activate = {
    enable = lib.mkEnableOption "the nixfleet-activate activation units (nixfleet-activate@.service and the boot-time recover)";

    package = mkOption {
      type = types.package;
      default = pkgs.nixfleet-activate or (pkgs.callPackage ./package.nix { });
      defaultText = lib.literalExpression "pkgs.nixfleet-activate or (pkgs.callPackage ./package.nix { })";
      description = "The nixfleet-activate package (the flake's module sets its own build).";
    };

    substituters = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "https://cache.example.org" ];
      description = "Substituters for `nix-store --realise` (`--substituters`); empty: nix.conf's.";
    };

    trustedPublicKeys = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "cache.example.org-1:AAAA...=" ];
      description = ''
        Keys a substitute must be signed with (`--trusted-public-keys`); empty: nix.conf's.
        `require-sigs` is never turned off.
      '';
    };

    stateDir = mkOption {
      type = types.strMatching "/.+";
      default = "/var/lib/nixfleet-activate";
      description = "Directory of the in-flight record (`--state-dir`), created 0700 root.";
    };

    pollInterval = mkOption {
      type = goDuration;
      default = "2s";
      description = "Time between reads of /run/current-system (`--poll-interval`, Go duration).";
    };

    pollBudget = mkOption {
      type = goDuration;
      default = "300s";
      description = "Time from firing switch-to-configuration to giving up (`--poll-budget`, Go duration).";
    };

    onFailure = mkOption {
      type = types.nullOr (
        types.enum [
          "restore"
          "keep"
        ]
      );
      default = null;
      description = ''
        What to do with the system profile after a failed switch (`--on-failure`):
        `restore` or `keep`. `null` passes no flag: the binary's default
        (`restore` for binaries that have the flag).
      '';
    };

    metricsFile = mkOption {
      type = types.nullOr (types.strMatching "/.+");
      default = null;
      example = "/var/lib/prometheus-node-exporter-text-files/nixfleet-activate.prom";
      description = ''
        Where activate, rollback and recover write metrics in node_exporter's
        textfile format after each run (`--metrics-file`, written atomically):
        the last outcome, its start and duration, the profile's generation,
        reboot pending, counts per outcome kind and the switch lock's holder.
        Point it into the directory of node_exporter's textfile collector.
        `null` writes none.
      '';
    };

    logFormat = mkOption {
      type = types.enum [
        "auto"
        "text"
        "json"
      ];
      default = "json";
      description = "Log format on stderr, the journal (`--log-format`).";
    };

    logLevel = mkOption {
      type = types.enum [
        "debug"
        "info"
        "warn"
        "error"
      ];
      default = "info";
      description = "Log level (`--log-level`).";
    };

    recoverOnBoot = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Run `nixfleet-activate recover` once at boot (nixfleet-activate-recover.service),
        resolving a run that a power loss, a crash or a kill cut short.
      '';
    };

    healthChecks = mkOption {
      type = types.attrsOf (
        types.submodule {
          options = {
            script = mkOption {
              type = types.lines;
              example = "\${pkgs.curl}/bin/curl -fsS http://localhost/health";
              description = "Shell script of the check (run with set -eu); exit 0 means healthy. Its output goes to the journal; the outcome carries its tail.";
            };
            timeout = mkOption {
              type = types.ints.positive;
              default = 30;
              description = "Seconds the check may run; past it the agent stops it and counts it failed.";
            };
          };
        }
      );
      default = { };
      description = ''
        Health checks this configuration declares (issue 18). They are built into the
        system closure (nixfleet-activate/health.json and health-checks/<name>); after
        the switch to this closure settles, nixfleet-activate runs each in its own
        transient unit, and rolls the host back to the previous generation when one fails
        (see --on-unhealthy). Names: letters, digits, "_" and "-".
      '';
    };

    extraFlags = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [
        "--realise-timeout=10m"
        "--meta=fleet=eu-1"
      ];
      description = "More flags for every invocation, one word each, after the module's own.";
    };
  };

  config = lib.mkIf cfg.enable {
    # Closures without checks stay as they were (issue 18).
    system.systemBuilderCommands = lib.mkIf (cfg.healthChecks != { }) healthBuilder;

    # For operators: status, rollback, --dry-run.
    environment.systemPackages = [ cfg.package ];

    systemd.tmpfiles.rules = [ "d ${cfg.stateDir} 0700 root root - -" ];

    systemd.services."nixfleet-activate@" = {
      description = "Activate system closure %I";
      # Substituters are remote; the Nix daemon realises for non-local stores;
      # an activation started during boot waits for the recovery of an
      # earlier run rather than racing it (each would resolve the record).
      after = [
        "network-online.target"
        "nix-daemon.socket"
        "nixfleet-activate-recover.service"
      ];
      wants = [ "network-online.target" ];
      path = agentPath;
      # LOADBEARING: the agent fires switch-to-configuration itself; a switch
      # that restarted or stopped this unit would interrupt the agent watching it.
      restartIfChanged = false;
      stopIfChanged = false;
      serviceConfig = hardening // {
        # systemctl start returns when the outcome is known; the outcome JSON
        # goes to the journal (stdout), the log too (stderr).
        Type = "oneshot";
        # %I: the unescaped instance name; %i would hand over "\x2d" for "-".
        ExecStart = execStart [
          "activate"
          "%I"
        ];
        SuccessExitStatus = exitList activateSuccessExits;
      };
    };

    systemd.services.nixfleet-activate-recover = lib.mkIf cfg.recoverOnBoot {
      description = "Resolve an unfinished nixfleet-activate run";
      wantedBy = [ "multi-user.target" ];
      after = [
        "nix-daemon.socket"
        "nix-daemon.service"
      ];
      path = agentPath;
      restartIfChanged = false;
      stopIfChanged = false;
      serviceConfig = hardening // {
        Type = "oneshot";
        # GOTCHA: without it the unit goes inactive after boot, and the next
        # switch-to-configuration (which starts the active targets) would
        # start it again, beside the activation that fired that switch.
        RemainAfterExit = true;
        ExecStart = execStart [ "recover" ];
        SuccessExitStatus = exitList recoverSuccessExits;
      };
    };
  };
}
