package codec_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/homeward/homeward/codec"
)

func TestBlindIndexesAreKeyedAndStable(t *testing.T) {
	ring := codec.GenerateKeyRing()
	s, err := codec.NewSealer(ring, ring.ActiveKeyID())
	require.NoError(t, err)
	a := s.BlindIndex("name", "camara")
	require.Equal(t, a, s.BlindIndex("name", "camara"), "deterministic")
	require.NotEqual(t, a, s.BlindIndex("phone", "camara"), "the kind is part of it")
	require.NotEqual(t, a, s.Hash("name", "camara"), "another key than the identity hash")
	rotated, err := ring.WithKey("k-new", codec.NewKey(), true)
	require.NoError(t, err)
	r, err := codec.NewSealer(rotated, ring.ActiveKeyID())
	require.NoError(t, err)
	require.Equal(t, a, r.BlindIndex("name", "camara"), "stable across rotation")
	other := codec.GenerateKeyRing()
	o, err := codec.NewSealer(other, other.ActiveKeyID())
	require.NoError(t, err)
	require.NotEqual(t, a, o.BlindIndex("name", "camara"), "keyed")
}
