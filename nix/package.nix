# The nixfleet-activate binary. callPackage it from nixpkgs:
#   pkgs.callPackage ./nix/package.nix { }
# buildGo126Module is taken when nixpkgs has it (go.mod needs Go 1.26),
# else buildGoModule.
{
  lib,
  buildGoModule,
  buildGo126Module ? null,
  # Stamped into the binary (nixfleet-activate --version).
  version ? "dev",
}:

let
  build = if buildGo126Module != null then buildGo126Module else buildGoModule;
  # Only what the Go build and its tests read: editing the Nix files, the CI
  # scripts or the README does not rebuild the package.
  src = lib.cleanSourceWith {
    src = lib.cleanSource ../.;
    filter =
      path: type:
      let
        rel = lib.removePrefix (toString ../. + "/") (toString path);
      in
      !(lib.hasSuffix ".nix" rel || rel == "nix" || rel == ".ci" || rel == "flake.lock");
  };
in
build {
  pname = "nixfleet-activate";
  inherit version src;

  # NAR hash of `go mod vendor`. After go.mod/go.sum change, update it to what
  # scripts/nix/vendor-hash.sh prints (the vendorHash check in nix/nixcheck
  # compares them).
  vendorHash = "sha256-2HIgirrueVZqCSTTlDa0VlI2RHf7z/hMbrmc/1VXV3Y=";

  subPackages = [ "cmd/nixfleet-activate" ];
  env.CGO_ENABLED = 0;
  ldflags = [
    "-s"
    "-w"
    "-X main.version=${version}"
  ];

  # Every package's tests: the suites needing root, real Nix or
  # systemd-nspawn (backends/real, the binary's end-to-end tests, the
  # container check of the module) skip in the build sandbox, and so do the
  # Nix evaluation checks (no nix-instantiate there). Without -race: the
  # sandbox's Go may lack cgo.
  checkPhase = ''
    runHook preCheck
    export GOFLAGS=''${GOFLAGS//-trimpath/}
    unset CI NIXFLEET_REQUIRE_REAL
    go test -count=1 ./...
    runHook postCheck
  '';

  doInstallCheck = true;
  installCheckPhase = ''
    runHook preInstallCheck
    $out/bin/nixfleet-activate --version | grep -qxF "nixfleet-activate ${version}"
    $out/bin/nixfleet-activate --sim happy activate > /dev/null
    runHook postInstallCheck
  '';

  meta = {
    description = "Switches a NixOS host to a new system closure safely, and reports the outcome as JSON";
    mainProgram = "nixfleet-activate";
    platforms = lib.platforms.linux;
  };
}
