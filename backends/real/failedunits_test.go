package real

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// systemd 252's `systemctl list-units --state=failed --plain --no-legend`:
// no glyph column, no header, no footer.
func TestParseFailedUnits(t *testing.T) {
	units, err := ParseFailedUnits("nginx.service loaded failed failed Nginx Web Server\n" +
		"systemd-networkd-wait-online@eth0.service loaded failed failed Wait for Network\n")
	require.NoError(t, err)
	assert.Equal(t, []string{"nginx.service", "systemd-networkd-wait-online@eth0.service"}, units)

	units, err = ParseFailedUnits("")
	require.NoError(t, err)
	assert.Empty(t, units)

	_, err = ParseFailedUnits("● nginx.service loaded failed failed Nginx\n")
	assert.ErrorIs(t, err, ErrBadOutput, "the glyph column means --plain was not honoured")
}
