# For users without flakes:
#   nix-build -A package                       # the binary
#   imports = [ (import ./path/to/nixfleet-activate { }).module ];   # NixOS
#   nix-build -A vmTest                        # the NixOS VM test (needs KVM)
# pkgs defaults to <nixpkgs>; the module's package then defaults to
# pkgs.nixfleet-activate, or to this package when the overlay is not applied.
{
  pkgs ? import <nixpkgs> { },
}:

{
  package = pkgs.callPackage ./nix/package.nix { };
  module = ./nix/module.nix;
  overlay = final: _prev: { nixfleet-activate = final.callPackage ./nix/package.nix { }; };
  vmTest = import ./nix/tests/vm.nix { inherit pkgs; };
}
