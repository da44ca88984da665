# NixOS VM test (needs KVM): one machine with the module enabled and three
# specialisations as the system closures to activate (their toplevels are in
# the VM's store, so nothing is substituted):
#   next      activates cleanly: settled, /run/current-system moves;
#   degraded  its switch leaves a unit failed: settled-degraded, the instance
#             fails with exit status 10;
#   slow      its switch waits on a slow unit: the agent is killed mid-switch,
#             the machine loses power, and the boot-time recover resolves it;
# then rollback, and a later switch that must not start recover again.
#
#   nix build .#checks.x86_64-linux.vm        (flake)
#   nix-build -A vmTest                       (default.nix)
{
  pkgs,
  module ? ../module.nix,
}:

pkgs.testers.runNixOSTest {
  name = "nixfleet-activate";

  nodes.machine =
    { lib, pkgs, ... }:
    {
      imports = [ module ];
      services.nixfleet-activate = {
        enable = true;
        # Short: recover at boot waits out what is left of it (from the fire).
        pollBudget = "30s";
      };
      # The VM has no network: every closure is already valid in its store.
      nix.settings.substituters = lib.mkForce [ ];
      # The VM boots its kernel directly; `switch` needs no boot loader.
      boot.loader.grub.enable = false;
      environment.etc."nixfleet-test-config".text = "base";
      specialisation = {
        next.configuration.environment.etc."nixfleet-test-config".text = lib.mkForce "next";
        degraded.configuration = {
          environment.etc."nixfleet-test-config".text = lib.mkForce "degraded";
          systemd.services.nixfleet-test-fails = {
            wantedBy = [ "multi-user.target" ];
            serviceConfig.Type = "oneshot";
            serviceConfig.ExecStart = "${pkgs.coreutils}/bin/false";
          };
        };
        slow.configuration = {
          environment.etc."nixfleet-test-config".text = lib.mkForce "slow";
          # switch-to-configuration waits for this start job.
          systemd.services.nixfleet-test-slow = {
            wantedBy = [ "multi-user.target" ];
            serviceConfig.Type = "oneshot";
            serviceConfig.RemainAfterExit = true;
            serviceConfig.ExecStart = "${pkgs.coreutils}/bin/sleep 600";
          };
        };
      };
    };

  testScript = ''
    import json
    import os

    RECOVER = "nixfleet-activate-recover.service"
    RECORD = "/var/lib/nixfleet-activate/in-flight.json"


    def prop(unit, name):
        return machine.succeed(f"systemctl show -P {name} {unit}").strip()


    def current():
        return machine.succeed("readlink -f /run/current-system").strip()


    def instance(closure):
        # The instance name is the escaped basename; the unit hands %I on.
        escaped = machine.succeed(f"systemd-escape {os.path.basename(closure)}").strip()
        return f"nixfleet-activate@{escaped}.service"


    def outcome_of(unit):
        """The last outcome object the unit printed in this boot."""
        machine.succeed("journalctl --sync")
        found = None
        for line in machine.succeed(f"journalctl -b -o cat -u {unit}").splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            # Log lines (stderr) carry "msg"; the outcome (stdout) does not.
            if isinstance(obj, dict) and "outcome" in obj and "msg" not in obj:
                found = obj
        assert found is not None, f"no outcome of {unit} in the journal"
        return found


    def activate(closure):
        unit = instance(closure)
        status, _ = machine.execute(f"systemctl start {unit}")
        return unit, status


    machine.wait_for_unit("multi-user.target")

    with subtest("boot: recover found nothing, the state directory is 0700 root"):
        machine.wait_for_unit(RECOVER)
        assert outcome_of(RECOVER)["outcome"] == "nothing-to-recover"
        assert machine.succeed("stat -c '%a %U' /var/lib/nixfleet-activate").strip() == "700 root"

    base = current()
    spec = {
        name: machine.succeed(f"readlink -f /run/current-system/specialisation/{name}").strip()
        for name in ["next", "degraded", "slow"]
    }

    with subtest("activation through the unit: settled"):
        unit, status = activate(spec["next"])
        assert status == 0, status
        assert "\\x2d" in unit, unit
        out = outcome_of(unit)
        assert out["outcome"] == "settled", out
        assert out["closure"] == os.path.basename(spec["next"]), out
        assert out["previous"] == os.path.basename(base), out
        assert out["switch"]["exit_code"] == 0, out
        assert current() == spec["next"]
        assert machine.succeed("cat /etc/nixfleet-test-config").strip() == "next"
        assert prop(unit, "Result") == "success"

    with subtest("a switch leaving a unit failed: settled-degraded, the instance fails with 10"):
        unit, status = activate(spec["degraded"])
        assert status != 0, status
        out = outcome_of(unit)
        assert out["outcome"] == "settled-degraded", out
        assert out["switch"]["exit_code"] == 4, out
        assert prop(unit, "ExecMainStatus") == "10"
        assert prop(unit, "Result") == "exit-code"
        assert current() == spec["degraded"]

    with subtest("rollback"):
        out = json.loads(machine.succeed("nixfleet-activate --log-format=json rollback"))
        assert out["outcome"] == "rollback-succeeded", out
        assert out["closure"] == os.path.basename(spec["next"]), out
        assert current() == spec["next"]

    with subtest("agent killed mid-switch, then power lost: the boot-time recover resolves the run"):
        unit = instance(spec["slow"])
        machine.succeed(f"systemctl start --no-block {unit}")
        machine.wait_until_succeeds(f"grep -q '\"step\":\"fired\"' {RECORD}")
        machine.wait_until_succeeds("systemctl show -P ActiveState nixfleet-test-slow.service | grep -qx activating")
        machine.succeed(f"systemctl kill --signal=SIGKILL {unit}")
        machine.wait_until_succeeds(f"systemctl is-failed {unit}")
        machine.succeed(f"test -e {RECORD}")
        machine.crash()
        machine.start()
        machine.wait_for_unit(RECOVER)
        out = outcome_of(RECOVER)
        assert out.get("recovered") is True, out
        assert out["closure"] == os.path.basename(spec["slow"]), out
        # The switch died with the machine: its unit is unknown after the
        # boot and current-system is the booted one, so the budget runs out.
        assert out["outcome"] == "switch-failed", out
        assert out["phase"] == "switch-poll-timeout", out
        assert out["exit_code"] is None, out
        assert out["last_observed"] == os.path.basename(base), out
        # 7 is one of the recover unit's success statuses: it stays active.
        assert prop(RECOVER, "SubState") == "exited"
        assert prop(RECOVER, "ExecMainStatus") == "7"
        machine.fail(f"test -e {RECORD}")
        assert current() == base

    with subtest("a later switch does not start recover again"):
        invocation = prop(RECOVER, "InvocationID")
        unit, status = activate(spec["next"])
        assert status == 0, status
        out = outcome_of(unit)
        assert out["outcome"] == "settled", out
        assert "earlier" not in out, out
        assert prop(RECOVER, "InvocationID") == invocation
        assert prop(RECOVER, "ActiveState") == "active"
  '';
}
