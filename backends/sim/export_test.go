package sim

// MustNewHost is NewHost that panics on error, for this package's tests
// (internal and external: a _test.go file of the package is compiled into
// both).
func MustNewHost(cfg HostConfig) *Host {
	h, err := NewHost(cfg)
	if err != nil {
		panic(err)
	}
	return h
}
