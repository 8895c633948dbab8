package iloqapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTimeFormats(t *testing.T) {
	want := time.Date(2021, 4, 20, 10, 42, 40, 803_000_000, time.UTC)
	cases := []struct {
		name, in string
		want     time.Time
		bad      bool
	}{
		{"UTC with Z and milliseconds", `"2021-04-20T10:42:40.803Z"`, want, false},
		{".NET seven digits without zone", `"2021-04-20T10:42:40.8030000"`, want, false},
		{"no fraction, no zone", `"2021-04-20T10:42:40"`, want.Truncate(time.Second), false},
		{"offset", `"2021-04-20T12:42:40.803+02:00"`, want, false},
		{"null", `null`, time.Time{}, false},
		{"not a date", `"yesterday"`, time.Time{}, true},
		{"not a string", `12`, time.Time{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var u UTCTime
			err := json.Unmarshal([]byte(c.in), &u)
			if c.bad {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.True(t, c.want.Equal(u.Time), "got %v", u.Time)
		})
	}
	t.Run("local times keep the wall clock", func(t *testing.T) {
		helsinki, err := time.LoadLocation("Europe/Helsinki")
		require.NoError(t, err)
		l := NewLocal(time.Date(2027, 1, 31, 16, 0, 0, 0, time.UTC), helsinki)
		b, err := json.Marshal(l)
		require.NoError(t, err)
		assert.Equal(t, `"2027-01-31T18:00:00"`, string(b))
		var back LocalTime
		require.NoError(t, json.Unmarshal(b, &back))
		assert.True(t, back.In(helsinki).Equal(time.Date(2027, 1, 31, 16, 0, 0, 0, time.UTC)))
	})
}
