# Minimal declarations of the NixOS options that nix/module.nix sets, for
# evaluating it with lib.evalModules where no nixpkgs (and so no NixOS) is at
# hand. Shapes follow nixos/modules/system/boot/systemd.nix; only what the
# module uses, with NixOS's defaults.
{ lib, pkgs, ... }:

let
  inherit (lib) mkOption types;
  # NixOS's unitOption: an atom or a list of atoms.
  atom = types.oneOf [
    types.bool
    types.int
    types.str
  ];
  unitOption = types.either atom (types.listOf atom);
  names = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };
  service = {
    options = {
      description = mkOption {
        type = types.str;
        default = "";
      };
      wantedBy = names;
      wants = names;
      requires = names;
      after = names;
      before = names;
      path = mkOption {
        type = types.listOf types.package;
        default = [ ];
      };
      environment = mkOption {
        type = types.attrsOf types.str;
        default = { };
      };
      unitConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
      };
      serviceConfig = mkOption {
        type = types.attrsOf unitOption;
        default = { };
      };
      restartIfChanged = mkOption {
        type = types.bool;
        default = true;
      };
      stopIfChanged = mkOption {
        type = types.bool;
        default = true;
      };
    };
  };
in
{
  options = {
    nix.package = mkOption {
      type = types.package;
      default = pkgs.nix;
    };
    systemd.package = mkOption {
      type = types.package;
      default = pkgs.systemd;
    };
    systemd.services = mkOption {
      type = types.attrsOf (types.submodule service);
      default = { };
    };
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    systemd.tmpfiles.rules = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    # nixos/modules/system/activation/top-level.nix: shell lines run by the
    # builder of the system closure ($out), internal.
    system.systemBuilderCommands = mkOption {
      type = types.lines;
      default = "";
    };
  };
}
