module github.com/nixfleet/nixfleet-activate

go 1.26.0

require (
	github.com/benbjohnson/clock v1.3.5
	github.com/fsnotify/fsnotify v1.9.0
	github.com/rogpeppe/go-internal v1.16.0
	github.com/spf13/afero v1.15.0
	github.com/stretchr/testify v1.12.1
	golang.org/x/sys v0.50.0
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/text v0.28.0 // indirect
	golang.org/x/tools v0.35.0 // indirect
)
