{
  description = "nixfleet-activate: switch a NixOS host to a new system closure safely, and report the outcome";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
      # Stamped into the binary: the commit, or "dirty" for a modified tree.
      version = "git-" + (self.shortRev or self.dirtyShortRev or "dirty");
      package = pkgs: pkgs.callPackage ./nix/package.nix { inherit version; };
    in
    {
      overlays.default = final: _prev: { nixfleet-activate = package final; };

      packages = forAllSystems (pkgs: {
        nixfleet-activate = package pkgs;
        default = self.packages.${pkgs.stdenv.hostPlatform.system}.nixfleet-activate;
      });

      # The module with this flake's build (its pinned nixpkgs, so its Go) as
      # the default package.
      nixosModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/module.nix ];
          services.nixfleet-activate.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };

      # nix flake check: the build (its checkPhase runs the Go tests that need
      # neither root nor real tools) and the NixOS VM test (needs KVM).
      checks = forAllSystems (pkgs: {
        package = self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        vm = import ./nix/tests/vm.nix {
          inherit pkgs;
          module = self.nixosModules.default;
        };
      });
    };
}
