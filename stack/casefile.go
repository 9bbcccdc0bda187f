package stack

import (
	"fmt"

	"github.com/homeward/homeward/codec"
	"github.com/homeward/homeward/config"
	"github.com/homeward/homeward/store"
)

// OpenCaseFile opens the case file with its sensitive columns sealed by the
// database key ring. With generate (homeward dev), a missing key file is created.
func OpenCaseFile(cfg config.Database, generate bool) (*store.Store, error) {
	ring, _, err := codec.Load(cfg.Keys, cfg.KeysFile, generate)
	if err != nil {
		return nil, fmt.Errorf("database keys: %w", err)
	}
	lookup := cfg.LookupKeyID
	if lookup == "" {
		lookup = ring.ActiveKeyID()
	}
	sealer, err := codec.NewSealer(ring, lookup)
	if err != nil {
		return nil, fmt.Errorf("database keys: %w", err)
	}
	st, err := store.Open(cfg.Driver, cfg.DSN)
	if err != nil {
		return nil, err
	}
	if cfg.MaxConns > 0 {
		st.SetMaxConns(cfg.MaxConns)
	}
	return st.WithSealer(sealer), nil
}
