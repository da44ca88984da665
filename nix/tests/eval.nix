# Evaluates nix/module.nix beside ./stubs.nix with nixpkgs' lib only, and
# returns JSON-able facts for the Go checks in nix/nixcheck:
#   options:  { NAME = { type = DESCRIPTION; default = VALUE; }; }
#   units:    { UNITNAME = { unit = { KEY = [ VALUE ]; }; service = { ... };
#               wantedBy = [ TARGET ]; }; }   (UNITNAME e.g. "nixfleet-activate@.service")
#   tmpfiles: [ LINE ]
#   systemPackages: [ STOREPATH ]
#   systemBuilderCommands: the shell lines added to the system builder
#
#   nix-instantiate --eval --strict --json nix/tests/eval.nix \
#     --argstr nixpkgsLib ABSOLUTE-PATH-OF-nixpkgs/lib --argstr config '{"services":...}'
#
# config is a JSON module (its "package" may be {"type":"derivation","outPath":...}).
# Unit values are rendered as NixOS renders them (systemd-lib.nix): booleans
# "true"/"false", integers as decimals, a list as repeated keys; a
# service's path becomes Environment=PATH=<bin dirs>:<sbin dirs>.
{
  nixpkgsLib,
  config ? "{}",
}:

let
  lib = import (/. + nixpkgsLib);
  fake = name: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };
  pkgs = {
    nix = fake "nix-stub";
    systemd = fake "systemd-stub";
    nixfleet-activate = fake "nixfleet-activate-stub";
    runtimeShell = "/bin/sh";
  };
  evaluated = lib.evalModules {
    modules = [
      ../module.nix
      ./stubs.nix
      { _module.args.pkgs = pkgs; }
      (builtins.fromJSON config)
    ];
  };
  cfg = evaluated.config;

  value =
    v:
    if v == true then
      "true"
    else if v == false then
      "false"
    else
      toString v;
  values = v: map value (lib.toList v);
  section = attrs: lib.mapAttrs (_: values) (lib.filterAttrs (_: v: v != [ ]) attrs);

  render = s: {
    wantedBy = s.wantedBy;
    unit = section (
      {
        Description = s.description;
        After = lib.concatStringsSep " " s.after;
        Before = lib.concatStringsSep " " s.before;
        Wants = lib.concatStringsSep " " s.wants;
        Requires = lib.concatStringsSep " " s.requires;
      }
      // lib.optionalAttrs (!s.restartIfChanged) { X-RestartIfChanged = false; }
      // lib.optionalAttrs (!s.stopIfChanged) { X-StopIfChanged = false; }
      // s.unitConfig
    );
    service = section (
      {
        Environment = lib.mapAttrsToList (k: v: "${k}=${v}") (
          lib.optionalAttrs (s.path != [ ]) {
            PATH = "${lib.makeBinPath s.path}:${lib.makeSearchPathOutput "bin" "sbin" s.path}";
          }
          // s.environment
        );
      }
      // s.serviceConfig
    );
  };
  # Drop empty strings the way section drops empty lists.
  clean = u: u // { unit = lib.filterAttrs (_: v: v != [ "" ]) u.unit; };
in
{
  options = lib.mapAttrs (_: o: {
    type = o.type.description;
    default = o.default;
  }) evaluated.options.services.nixfleet-activate;
  units = lib.mapAttrs' (name: s: lib.nameValuePair "${name}.service" (clean (render s))) cfg.systemd.services;
  tmpfiles = cfg.systemd.tmpfiles.rules;
  systemPackages = map toString cfg.environment.systemPackages;
  systemBuilderCommands = cfg.system.systemBuilderCommands;
}
