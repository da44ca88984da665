package events

import (
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/stretchr/testify/assert"
)

// TestUnitObjectPath: systemd 252 names the unit objects as `busctl tree
// org.freedesktop.systemd1` lists them.
func TestUnitObjectPath(t *testing.T) {
	assert.Equal(t, dbus.ObjectPath("/org/freedesktop/systemd1/unit/nixfleet_2dactivate_2dswitch_2eservice"),
		unitObjectPath("nixfleet-activate-switch.service"))
	assert.Equal(t, dbus.ObjectPath("/org/freedesktop/systemd1/unit/_31x_2eservice"), unitObjectPath("1x.service"))
	assert.Equal(t, dbus.ObjectPath("/org/freedesktop/systemd1/unit/a_5fb_40c_2eservice"), unitObjectPath("a_b@c.service"))
}

func TestUnitMayHaveEnded(t *testing.T) {
	path := unitObjectPath("u.service")
	changed := func(p dbus.ObjectPath, iface, sub string) *dbus.Signal {
		return &dbus.Signal{Path: p, Name: propertiesChanged,
			Body: []any{iface, map[string]dbus.Variant{"SubState": dbus.MakeVariant(sub)}, []string{}}}
	}
	assert.True(t, unitMayHaveEnded(changed(path, unitInterface, "exited"), path, "u.service"))
	assert.True(t, unitMayHaveEnded(changed(path, unitInterface, "failed"), path, "u.service"))
	assert.True(t, unitMayHaveEnded(changed(path, unitInterface, "dead"), path, "u.service"))
	assert.False(t, unitMayHaveEnded(changed(path, unitInterface, "running"), path, "u.service"))
	assert.False(t, unitMayHaveEnded(changed(path, unitInterface, "start-pre"), path, "u.service"))
	assert.False(t, unitMayHaveEnded(changed(unitObjectPath("v.service"), unitInterface, "exited"), path, "u.service"), "another unit")
	assert.False(t, unitMayHaveEnded(changed(path, serviceInterface, "exited"), path, "u.service"), "SubState is the Unit interface's")
	code := func(c int32) *dbus.Signal {
		return &dbus.Signal{Path: path, Name: propertiesChanged,
			Body: []any{serviceInterface, map[string]dbus.Variant{"ExecMainCode": dbus.MakeVariant(c)}, []string{}}}
	}
	assert.True(t, unitMayHaveEnded(code(1), path, "u.service"), "CLD_EXITED")
	assert.False(t, unitMayHaveEnded(code(0), path, "u.service"), "not exited yet")
	removed := func(name string) *dbus.Signal {
		return &dbus.Signal{Path: systemdPath, Name: managerUnitRemoved, Body: []any{name, path}}
	}
	assert.True(t, unitMayHaveEnded(removed("u.service"), path, "u.service"))
	assert.False(t, unitMayHaveEnded(removed("v.service"), path, "u.service"))
}

// TestOSUnitWatchFails: a socket that cannot be reached leaves the watch
// on its paths, without the unit (the caller reads the unit's status).
func TestOSUnitWatchFails(t *testing.T) {
	dir := t.TempDir()
	w, err := OS{Root: dir, SystemdBus: dir + "/no-such-socket"}.Watch(t.Context(), Request{Paths: []string{"/link"}, Unit: "u"})
	assert.NoError(t, err)
	defer w.Close()
	assert.False(t, w.Units())
	assert.ErrorContains(t, UnitErr(w), "systemd's private bus")
}

func TestMemFailUnitWatches(t *testing.T) {
	m := NewMem(nil)
	m.FailUnitWatches(assert.AnError)
	w, err := m.Watch(t.Context(), Request{Unit: "u"})
	assert.NoError(t, err)
	assert.False(t, w.Units())
	assert.Equal(t, assert.AnError, UnitErr(w))
	m.UnitEnded("u")
	assert.Len(t, w.C(), 0, "no unit-end event without the subscription")
	w2, _ := m.Watch(t.Context(), Request{Unit: "u"})
	assert.True(t, w2.Units(), "one failure per call")
}
