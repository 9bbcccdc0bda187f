package money_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/money"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]money.Cents{"0": 0, "1250.00": 125000, "1250.5": 125050, "3.07": 307, "999999999999.99": 99999999999999} {
		got, err := money.Parse(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
		back, err := money.Parse(got.String())
		require.NoError(t, err)
		require.Equal(t, got, back, "canonical form parses back to the same amount")
	}
	for _, bad := range []string{"", "-1.00", "1.001", "1e3", "01.00", "1,00", " 1", "NaN", "1.", ".5", "1234567890123.00"} {
		_, err := money.Parse(bad)
		require.ErrorIs(t, err, money.ErrInvalidAmount, bad)
	}
}

func TestStringCanonical(t *testing.T) {
	require.Equal(t, "1250.50", money.MustParse("1250.5").String())
	require.Equal(t, "-3.07", (-money.Cents(307)).String())
	require.Equal(t, money.Money{Amount: "12.00", Currency: "EUR"}, money.Of(1200, "EUR"))
}
