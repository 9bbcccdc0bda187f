package codec

import (
	"errors"
	"fmt"
)

// Load returns the key ring from the configuration: the JSON in keys if given
// (an environment variable), else the file. With generate, a missing file is
// created with a new key (homeward dev's first run); created says so.
func Load(keys, keysFile string, generate bool) (ring *KeyRing, created bool, err error) {
	switch {
	case keys != "":
		ring, err = ParseKeyRing(keys)
	case keysFile == "":
		err = errors.New("no key ring configured (codec.keys_file or HOMEWARD_CODEC_KEYS)")
	case generate:
		ring, created, err = LoadOrGenerateKeyRingFile(keysFile)
	default:
		ring, err = LoadKeyRing(keysFile)
	}
	if err != nil {
		return nil, false, fmt.Errorf("codec keys: %w", err)
	}
	return ring, created, nil
}
