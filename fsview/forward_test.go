package fsview

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestOptionalsNameEveryLayerAbility: every exported method of the OS and
// the in-memory layer beyond Raw belongs to an interface Optionals holds,
// so a decorator that forwards Optionals (the transcript recorder) misses
// none of a layer's abilities; a new optional interface must be added to
// Optionals, OptionalsOf and the decorators.
func TestOptionalsNameEveryLayerAbility(t *testing.T) {
	known := map[string]bool{}
	for _, it := range []reflect.Type{reflect.TypeFor[Raw]()} {
		for i := range it.NumMethod() {
			known[it.Method(i).Name] = true
		}
	}
	opt := reflect.TypeFor[Optionals]()
	for i := range opt.NumField() {
		it := opt.Field(i).Type
		for j := range it.NumMethod() {
			known[it.Method(j).Name] = true
		}
	}
	for _, layer := range []Raw{NewOSRaw("/"), NewMemRaw()} {
		lt := reflect.TypeOf(layer)
		for i := range lt.NumMethod() {
			assert.True(t, known[lt.Method(i).Name], "%s.%s is in no interface of Optionals", lt, lt.Method(i).Name)
		}
	}
}
