package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strconv"
	"sync"
	"time"
)

// The identity headers of kernel/sdk/src/identity.ts: plugins verify them with the TypeScript
// verifier, so the message signed here must be byte for byte the one signIdentity signs.
const (
	headerCaller     = "x-ol-caller"
	headerAuthMethod = "x-ol-auth-method"
	headerTimestamp  = "x-ol-caller-ts"
	headerSignature  = "x-ol-caller-sig"
	reservedPrefix   = "x-ol-"
)

// identity is who the kernel says the caller is.
type identity struct {
	Address    string `json:"address"`
	AuthMethod string `json:"authMethod"`
}

// signatureReuse is how long a signature made for a caller's calls to a method is reused. The
// plugin accepts it for MAX_IDENTITY_SKEW_MS (5 minutes) anyway; reusing it saves an HMAC here
// and lets the plugin's IdentityVerifier (kernel/sdk) verify from its cache instead of
// recomputing the HMAC on every call.
const signatureReuse = time.Second

// maxSignatures bounds a signer's remembered signatures; past it, it starts over.
const maxSignatures = 10_000

// identitySigner signs identities with one plugin's credential.
type identitySigner struct {
	mu     sync.Mutex
	mac    hash.Hash // keyed once; Reset returns it to its keyed state
	signed map[string]signature
}

type signature struct {
	headers [8]string
	atMs    int64
}

func newIdentitySigner(credential []byte) *identitySigner {
	return &identitySigner{mac: hmac.New(sha256.New, credential), signed: map[string]signature{}}
}

// sign returns the four identity headers (name, value pairs) for a call to method at nowMs
// (Unix milliseconds): a signature made for the same caller and method less than signatureReuse
// ago, or a new one.
func (s *identitySigner) sign(who identity, method string, nowMs int64) [8]string {
	var buffer [256]byte
	message := append(buffer[:0], who.Address...)
	message = append(message, '\n')
	message = append(message, who.AuthMethod...)
	message = append(message, '\n')
	message = append(message, method...)
	message = append(message, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	// The signed message up to its timestamp is the key (string(...) does not copy it for a lookup).
	if previous, found := s.signed[string(message)]; found && nowMs >= previous.atMs && nowMs-previous.atMs < signatureReuse.Milliseconds() {
		return previous.headers
	}
	key := string(message)
	timestampAt := len(message)
	message = strconv.AppendInt(message, nowMs, 10)
	s.mac.Reset()
	s.mac.Write(message)
	var sum [sha256.Size]byte
	headers := [8]string{
		headerCaller, who.Address,
		headerAuthMethod, who.AuthMethod,
		headerTimestamp, string(message[timestampAt:]),
		headerSignature, hex.EncodeToString(s.mac.Sum(sum[:0])),
	}
	if len(s.signed) >= maxSignatures {
		s.signed = map[string]signature{}
	}
	s.signed[key] = signature{headers: headers, atMs: nowMs}
	return headers
}
