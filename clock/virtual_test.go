package clock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestVirtualRunsEventsInTimeThenInsertionOrder(t *testing.T) {
	v := NewVirtual(time.Time{})
	var got []string
	at := func(name string) func() {
		return func() { got = append(got, name+"@"+v.Now().Sub(Epoch).String()) }
	}
	v.Schedule(5*time.Second, at("b"))
	v.Schedule(2*time.Second, at("a"))
	v.Schedule(5*time.Second, at("c"))
	v.Schedule(30*time.Second, at("late"))

	<-v.After(6 * time.Second)
	assert.Equal(t, []string{"a@2s", "b@5s", "c@5s"}, got)
	assert.Equal(t, Epoch.Add(6*time.Second), v.Now())
	assert.Equal(t, 1, v.Pending())
}

func TestVirtualAfterNeverBlocksAndNeverGoesBack(t *testing.T) {
	v := NewVirtual(time.Time{})
	select {
	case now := <-v.After(300 * time.Second):
		assert.Equal(t, Epoch.Add(300*time.Second), now)
	default:
		t.Fatal("After must hold the new time at once")
	}
	v.Advance(-time.Second)
	assert.Equal(t, Epoch.Add(300*time.Second), v.Now())
}

func TestVirtualEventsScheduledByEventsRunInTheSameAdvance(t *testing.T) {
	v := NewVirtual(time.Time{})
	fired := false
	v.Schedule(time.Second, func() { v.Schedule(time.Second, func() { fired = true }) })
	v.Advance(2 * time.Second)
	assert.True(t, fired)
}

func TestClockImplementations(t *testing.T) {
	var _ Clock = NewVirtual(time.Time{})
	assert.NotNil(t, Real().Now())
}

// BenchmarkVirtualPoll is 150 polls of 2 s: a whole 300 s poll budget.
func BenchmarkVirtualPoll(b *testing.B) {
	for b.Loop() {
		v := NewVirtual(time.Time{})
		v.Schedule(5*time.Second, func() {})
		for range 150 {
			<-v.After(2 * time.Second)
		}
	}
}

func TestVirtualWallStepLeavesTheSteadyTimeline(t *testing.T) {
	v := NewVirtual(time.Time{})
	ran := false
	v.Schedule(10*time.Second, func() { ran = true })
	v.StepWall(-5 * time.Minute)
	assert.Equal(t, Epoch.Add(-5*time.Minute), v.Now())
	assert.Equal(t, Epoch, v.Steady())
	assert.False(t, ran, "a step runs no event")
	assert.Equal(t, Epoch.Add(-5*time.Minute+10*time.Second), <-v.After(10*time.Second))
	assert.True(t, ran)
	assert.Equal(t, -5*time.Minute, v.WallStep())
}

func TestWakeEndsAfterAtTheEventsInstantWithTheRestOfThatInstant(t *testing.T) {
	v := NewVirtual(time.Time{})
	var ran []string
	v.Schedule(3*time.Second, func() { ran = append(ran, "wake"); v.Wake() })
	v.Schedule(3*time.Second, func() { ran = append(ran, "same instant") })
	v.Schedule(4*time.Second, func() { ran = append(ran, "later") })
	got := <-v.After(10 * time.Second)
	if want := Epoch.Add(3 * time.Second); !got.Equal(want) || !v.Now().Equal(want) {
		t.Fatalf("After woke at %s, want %s", got, want)
	}
	if len(ran) != 2 || ran[1] != "same instant" {
		t.Fatalf("ran %v, want the whole instant and nothing later", ran)
	}
	v.Advance(0)
	v.Wake() // outside an After: nothing
	v.Advance(2 * time.Second)
	if len(ran) != 3 || !v.Now().Equal(Epoch.Add(5*time.Second)) {
		t.Fatalf("Advance is not cut short: ran %v at %s", ran, v.Now())
	}
}
