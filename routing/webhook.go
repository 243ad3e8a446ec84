package routing

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// DecodeSecret turns a webhook secret into HMAC key bytes. A secret in
// the Standard Webhooks form "whsec_<base64>" is base64-decoded; any
// other string is used as raw bytes.
func DecodeSecret(secret string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(secret, "whsec_"); ok {
		k, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, fmt.Errorf("decode whsec secret: %w", err)
		}
		return k, nil
	}
	if secret == "" {
		return nil, errors.New("empty webhook secret")
	}
	return []byte(secret), nil
}
