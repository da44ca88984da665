package transcript

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// OutcomeMismatch is a replayed outcome that differs from the recorded
// one; Fields lists each differing JSON field as "name: recorded -> replayed".
type OutcomeMismatch struct {
	Fields []string
}

func (m *OutcomeMismatch) Error() string {
	return "replayed outcome differs from the recorded one:\n  " + strings.Join(m.Fields, "\n  ")
}

// CompareOutcomes compares two outcome JSON texts field by field (top
// level; nested objects compared whole). Errors: *OutcomeMismatch.
func CompareOutcomes(recorded, replayed json.RawMessage) error {
	var a, b map[string]any
	_ = json.Unmarshal(orNull(recorded), &a)
	_ = json.Unmarshal(orNull(replayed), &b)
	var diff []string
	for _, k := range sortedKeys(union(a, b)) {
		if !reflect.DeepEqual(a[k], b[k]) {
			diff = append(diff, fmt.Sprintf("%s: %s -> %s", k, compact(a[k]), compact(b[k])))
		}
	}
	if len(diff) > 0 {
		return &OutcomeMismatch{Fields: diff}
	}
	return nil
}

func orNull(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

func union(a, b map[string]any) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

func compact(v any) string {
	if v == nil {
		return "(absent)"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
