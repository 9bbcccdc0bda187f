package codec_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/codec"
)

func TestSealerRoundTripRotationAndTampering(t *testing.T) {
	ring := codec.GenerateKeyRing()
	s, err := codec.NewSealer(ring, ring.ActiveKeyID())
	require.NoError(t, err)
	sealed, err := s.Seal("beneficiary", `{"given_name":"Aminata"}`)
	require.NoError(t, err)
	require.NotContains(t, sealed, "Aminata")
	require.True(t, strings.HasPrefix(sealed, "enc:"+ring.ActiveKeyID()+":"))
	plain, err := s.Open("beneficiary", sealed)
	require.NoError(t, err)
	require.Equal(t, `{"given_name":"Aminata"}`, plain)

	_, err = s.Open("household", sealed)
	require.ErrorIs(t, err, codec.ErrDecrypt, "bound to its column")
	tampered := sealed[:len(sealed)-4] + "AAAA"
	_, err = s.Open("beneficiary", tampered)
	require.Error(t, err)

	rotated, err := ring.WithKey("k-new", codec.NewKey(), true)
	require.NoError(t, err)
	r, err := codec.NewSealer(rotated, ring.ActiveKeyID())
	require.NoError(t, err)
	plain, err = r.Open("beneficiary", sealed)
	require.NoError(t, err, "old values open after a rotation")
	require.Equal(t, `{"given_name":"Aminata"}`, plain)
	again, err := r.Seal("beneficiary", "x")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(again, "enc:k-new:"), "new values use the new key")
	require.Equal(t, s.Hash("camara", "1990-04-01"), r.Hash("camara", "1990-04-01"), "lookups survive rotation")
	require.NotEqual(t, s.Hash("camara", "1990-04-01"), s.Hash("camara", "1990-04-02"))

	other := codec.GenerateKeyRing()
	o, err := codec.NewSealer(other, other.ActiveKeyID())
	require.NoError(t, err)
	_, err = o.Open("beneficiary", sealed)
	require.ErrorIs(t, err, codec.ErrUnknownKey)
	require.NotEqual(t, s.Hash("camara"), o.Hash("camara"), "the hash is keyed")
	_, err = codec.NewSealer(ring, "nope")
	require.ErrorIs(t, err, codec.ErrUnknownKey)

	plain, err = s.Open("beneficiary", `{"anonymised":true}`)
	require.NoError(t, err, "unsealed values (anonymised, or from before) pass")
	require.Equal(t, `{"anonymised":true}`, plain)
}
