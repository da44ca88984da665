module example.com/acme/fleet-scenarios

go 1.26.0

require github.com/nixfleet/nixfleet-activate v0.0.0

require (
	github.com/benbjohnson/clock v1.3.5 // indirect
	github.com/fsnotify/fsnotify v1.9.0 // indirect
	github.com/godbus/dbus/v5 v5.2.4 // indirect
	github.com/hbollon/go-edlib v1.7.0 // indirect
	github.com/rogpeppe/go-internal v1.16.0 // indirect
	github.com/spf13/afero v1.15.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	golang.org/x/tools v0.51.0 // indirect
)

// This repository's own CI runs the example against the checkout; a fleet's
// module requires a released version instead and drops the replace.
replace github.com/nixfleet/nixfleet-activate => ../..
