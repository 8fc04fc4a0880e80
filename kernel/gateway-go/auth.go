package main

import (
	"context"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// authCache keeps the kernel's answers (positive ones only) for a short while. The kernel clears
// it when a credential is revoked, so revocation does not wait for entries to expire.
type authCache struct {
	ttl time.Duration

	mu         sync.RWMutex
	entries    map[string]cacheEntry
	generation uint64
}

// maxCacheEntries bounds the cache; past it, it starts over.
const maxCacheEntries = 100_000

type cacheEntry struct {
	who     identity
	expires time.Time
}

type authenticator struct {
	control           *control
	credentialHeaders []string
	cache             authCache
}

func newAuthenticator(c *control, credentialHeaders []string, ttl time.Duration) *authenticator {
	return &authenticator{control: c, credentialHeaders: credentialHeaders, cache: authCache{ttl: ttl, entries: map[string]cacheEntry{}}}
}

func (a *authenticator) invalidate() {
	a.cache.mu.Lock()
	a.cache.entries = map[string]cacheEntry{}
	a.cache.generation++
	a.cache.mu.Unlock()
}

// identify returns the caller of method, or the kernel's refusal. What the kernel decides on is
// the credential headers and any x-ol-* header (which it refuses), so only those are sent. An
// answer for a credential does not depend on the method; without one it does (public methods).
func (a *authenticator) identify(ctx context.Context, method string, md metadata.MD) (identity, *status.Status) {
	reserved := false
	for name := range md {
		if strings.HasPrefix(name, reservedPrefix) {
			reserved = true
			break
		}
	}
	if reserved {
		// Always refused by the kernel (with its reason); nothing to cache.
		who, refused := a.control.resolve(ctx, method, a.decisive(md))
		if refused != nil {
			return identity{}, refused
		}
		return *who, nil
	}
	// The key is built on the stack; a map lookup with string(key) does not copy it.
	var keyBuffer [256]byte
	key := keyBuffer[:0]
	for _, name := range a.credentialHeaders {
		for _, value := range md[name] {
			key = append(key, name...)
			key = append(key, 0)
			key = append(key, value...)
			key = append(key, 0)
		}
	}
	if len(key) == 0 {
		key = append(key, 1)
		key = append(key, method...)
	}
	now := time.Now()
	a.cache.mu.RLock()
	entry, found := a.cache.entries[string(key)]
	generation := a.cache.generation
	a.cache.mu.RUnlock()
	if found && now.Before(entry.expires) {
		return entry.who, nil
	}
	who, refused := a.control.resolve(ctx, method, a.decisive(md))
	if refused != nil {
		return identity{}, refused
	}
	a.cache.mu.Lock()
	// An invalidation that arrived while the kernel answered may concern this very answer.
	if a.cache.generation == generation {
		if len(a.cache.entries) >= maxCacheEntries {
			a.cache.entries = map[string]cacheEntry{}
		}
		a.cache.entries[string(key)] = cacheEntry{who: *who, expires: now.Add(a.cache.ttl)}
	}
	a.cache.mu.Unlock()
	return *who, nil
}

// decisive is what the kernel decides on: the credential headers and any x-ol-* header.
func (a *authenticator) decisive(md metadata.MD) map[string][]string {
	headers := map[string][]string{}
	for _, name := range a.credentialHeaders {
		if values := md[name]; len(values) > 0 {
			headers[name] = values
		}
	}
	for name, values := range md {
		if strings.HasPrefix(name, reservedPrefix) {
			headers[name] = values
		}
	}
	return headers
}
