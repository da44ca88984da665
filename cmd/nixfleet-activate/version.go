package main

// version is the release this binary was built from, stamped by the Nix
// package (nix/package.nix) with -ldflags "-X main.version=VERSION"; "dev"
// in a plain go build. `nixfleet-activate --version` prints it.
var version = "dev"
