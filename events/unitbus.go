package events

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/godbus/dbus/v5"
)

// SystemdPrivateSocket is the address of systemd's private D-Bus socket
// (systemd 252: /run/systemd/private, root only). The manager talks D-Bus
// on it directly, without a dbus-daemon, and sends every unit's
// PropertiesChanged signal to each of its connections.
const SystemdPrivateSocket = "/run/systemd/private"

// systemd 252's D-Bus names (org.freedesktop.systemd1(5)).
const (
	systemdDest        = "org.freedesktop.systemd1"
	systemdPath        = dbus.ObjectPath("/org/freedesktop/systemd1")
	managerSubscribe   = "org.freedesktop.systemd1.Manager.Subscribe"
	managerUnitRemoved = "org.freedesktop.systemd1.Manager.UnitRemoved"
	unitInterface      = "org.freedesktop.systemd1.Unit"
	serviceInterface   = "org.freedesktop.systemd1.Service"
	propertiesChanged  = "org.freedesktop.DBus.Properties.PropertiesChanged"
)

// unitBus follows one transient unit's end through a subscription to its
// properties on systemd's private socket, and posts to sig when its
// ExecMainCode becomes non-zero (the main process has ended: systemd
// 252 sends it at the SIGCHLD, before the unit's own state moves on), its
// SubState leaves the running states (with --remain-after-exit it is then
// "exited" or "failed"), or the unit is unloaded.
//
// Chosen over reading `systemctl show` on a 10-50 ms backoff by
// measurement on the same 20 units in a systemd 252 container, side by
// side (TestRealUnitEndLatency in cmd/nixfleet-activate; 2 shared cores,
// load 2.8-4.6): unit exit (ExecMainExitTimestamp) to the signal seen p50
// 20 ms, p95 29 ms; to the backoff's read p50 43 ms, p95 82 ms, while the
// backoff ran 16 `systemctl` processes and 219 ms of CPU per second of
// waiting (for a 30 s switch: hundreds of process starts and seconds of
// CPU; the subscription runs none and wakes once). A failed switch through
// the binary was decided p50 31 ms, p95 40 ms after its exit, against up
// to one 2 s interval before. Its cost: one socket, and every unit's
// signals read and dropped while the wait lasts.
//
// A notification only wakes the waiter, which reads the unit's status with
// `systemctl show`: the verdict never comes from the signal's content.
type unitBus struct {
	conn *dbus.Conn
	// lost is set when the connection ended before Close (systemd
	// restarted, re-executed): unit ends are no longer reported.
	mu   sync.Mutex
	lost bool
	wg   sync.WaitGroup
}

// watchUnitEnd connects to socket (a D-Bus address's unix path), subscribes
// to systemd's unit signals and follows unit (a name without ".service").
// Errors: the socket cannot be reached (not root, no systemd), the
// authentication or the Subscribe call failed.
func watchUnitEnd(ctx context.Context, socket, unit string, sig signal) (*unitBus, error) {
	conn, err := dbus.Dial("unix:path="+socket, dbus.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("systemd's private bus: %w", err)
	}
	// GOTCHA: no Hello: systemd's private socket is a direct connection, not a bus; Hello would fail.
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("systemd's private bus: authentication: %w", err)
	}
	ch := make(chan *dbus.Signal, 16)
	conn.Signal(ch)
	b := &unitBus{conn: conn}
	b.wg.Add(1)
	// LOADBEARING: the loop drains signals from the start: godbus blocks its reader on a full signal channel.
	go b.loop(ch, unitObjectPath(unit+".service"), unit+".service", sig)
	// GOTCHA: systemd 252 sends every signal to each private-socket connection unasked, and in the container it left about one Subscribe call in five without a reply (the signals kept coming): Subscribe is sent for older managers only, without waiting for a reply.
	call := conn.Object(systemdDest, systemdPath).GoWithContext(ctx, managerSubscribe, dbus.FlagNoReplyExpected, nil)
	if call.Err != nil {
		return nil, errors.Join(fmt.Errorf("systemd's private bus: Subscribe: %w", call.Err), b.close())
	}
	return b, nil
}

// loop posts to sig for each signal that may mean the unit has ended, and
// once more when the connection ends (read again: one may be lost).
func (b *unitBus) loop(ch <-chan *dbus.Signal, path dbus.ObjectPath, full string, sig signal) {
	defer b.wg.Done()
	for s := range ch {
		if unitMayHaveEnded(s, path, full) {
			sig.notify()
		}
	}
	b.mu.Lock()
	b.lost = true
	b.mu.Unlock()
	sig.notify()
}

// unitMayHaveEnded reports whether s says that the unit at path (named
// full) left its running states or was unloaded.
func unitMayHaveEnded(s *dbus.Signal, path dbus.ObjectPath, full string) bool {
	switch s.Name {
	case managerUnitRemoved:
		return len(s.Body) > 0 && s.Body[0] == full
	case propertiesChanged:
		if s.Path != path || len(s.Body) < 2 {
			return false
		}
		changed, _ := s.Body[1].(map[string]dbus.Variant)
		switch s.Body[0] {
		case unitInterface:
			sub, ok := changed["SubState"]
			state, _ := sub.Value().(string)
			return ok && !runningSubState(state)
		case serviceInterface:
			code, ok := changed["ExecMainCode"]
			si, _ := code.Value().(int32)
			return ok && si != 0
		}
	}
	return false
}

// runningSubState reports the service SubStates (systemd 252,
// src/basic/unit-def.c) in which the main process has not ended yet.
func runningSubState(s string) bool {
	return s == "running" || strings.HasPrefix(s, "start") || s == "reload" || s == "condition"
}

// live reports whether unit ends are still delivered.
func (b *unitBus) live() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.lost
}

// close ends the subscription and waits for its loop.
func (b *unitBus) close() error {
	err := b.conn.Close()
	b.wg.Wait()
	return err
}

// unitObjectPath is systemd's object path of a unit: its name escaped as
// sd_bus_path_encode does (systemd 252, src/libsystemd/sd-bus/bus-label.c):
// every byte but ASCII letters and digits, and a leading digit, becomes
// "_" and two lower-case hex digits.
func unitObjectPath(name string) dbus.ObjectPath {
	var sb strings.Builder
	sb.WriteString(string(systemdPath) + "/unit/")
	for i := 0; i < len(name); i++ {
		c := name[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		digit := c >= '0' && c <= '9'
		if alpha || (digit && i > 0) {
			sb.WriteByte(c)
			continue
		}
		fmt.Fprintf(&sb, "_%02x", c)
	}
	return dbus.ObjectPath(sb.String())
}
