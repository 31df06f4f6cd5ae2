package service

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/secret"
	"github.com/autohook/autohook/internal/store"
)

// displayPrefix is the part of a key that lists show, to tell keys apart:
// six characters after ahk_ for the 43-character keys Autohook makes, at
// most a quarter of any other (a bootstrap key chosen by the operator).
func displayPrefix(key string) string {
	if strings.HasPrefix(key, autohook.KeyPrefix) && len(key) >= len(autohook.KeyPrefix)+32 {
		return key[:len(autohook.KeyPrefix)+6]
	}
	return key[:min(4, len(key)/4)]
}

// touchEvery is how often a key's last-used time is written: often enough to
// be useful, rarely enough not to turn every API call into a write.
const touchEvery = time.Minute

// Authenticate returns the principal of an API key; ErrUnauthorized for an
// unknown or revoked key.
func (s *Service) Authenticate(ctx context.Context, key string) (*autohook.Principal, error) {
	if key == "" {
		return nil, autohook.ErrUnauthorized
	}
	k, err := s.st.APIKeyByHash(ctx, autohook.HashKey(key))
	if err != nil {
		if err == autohook.ErrNotFound {
			return nil, autohook.ErrUnauthorized
		}
		return nil, err
	}
	now := s.now()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > touchEvery {
		err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.TouchAPIKey(ctx, k.ID, now) })
		if err != nil {
			s.log.WarnContext(ctx, "record api key use", "key", k.ID, "err", err)
		}
	}
	role := k.Role
	if k.InstanceAdmin {
		role = autohook.RoleOwner
	}
	return &autohook.Principal{OrgID: k.OrgID, KeyID: k.ID, KeyName: k.Name, InstanceAdmin: k.InstanceAdmin, Role: role}, nil
}

// checkRole checks a role given as input at path ("" is def).
func checkRole(path string, role, def autohook.Role) (autohook.Role, error) {
	if role == "" {
		return def, nil
	}
	if !role.Valid() {
		return "", problemAt(path, "must be one of owner, editor, viewer, got %q", role)
	}
	return role, nil
}

// CreateAPIKey creates an API key for the organisation with a role (""
// is owner, what every key could do before roles).
func (s *Service) CreateAPIKey(ctx context.Context, orgID, name string, role autohook.Role) (*autohook.CreatedKey, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return nil, problemAt("name", "is required (at most 200 characters)")
	}
	role, err := checkRole("role", role, autohook.RoleOwner)
	if err != nil {
		return nil, err
	}
	key := autohook.NewAPIKey()
	var k *autohook.APIKey
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		k, err = tx.CreateAPIKey(ctx, orgID, name, displayPrefix(key), autohook.HashKey(key), false, role)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, autohook.AuditAPIKeyCreated, target("api_key", k.ID, k.Name), details{"role": role, "prefix": k.Prefix})
	})
	if err != nil {
		return nil, err
	}
	return &autohook.CreatedKey{APIKey: k, Key: key}, nil
}

// APIKeys lists the organisation's keys.
func (s *Service) APIKeys(ctx context.Context, orgID string, page autohook.Page) ([]*autohook.APIKey, string, error) {
	return s.st.APIKeys(ctx, orgID, page)
}

// RevokeAPIKey revokes a key; it is refused from the next request on.
func (s *Service) RevokeAPIKey(ctx context.Context, orgID, id string) error {
	return s.st.Write(ctx, func(tx *store.Tx) error {
		k, err := tx.APIKey(ctx, orgID, id)
		if err != nil {
			return err
		}
		if err := tx.RevokeAPIKey(ctx, orgID, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, autohook.AuditAPIKeyRevoked, target("api_key", id, k.Name), details{"role": k.Role, "prefix": k.Prefix})
	})
}

// CreateOrganisation creates an organisation and its admin API key. Only the
// instance admin may.
func (s *Service) CreateOrganisation(ctx context.Context, p *autohook.Principal, name string) (*autohook.CreatedOrganisation, error) {
	if !p.InstanceAdmin {
		return nil, fmt.Errorf("%w: only the instance admin can create organisations", autohook.ErrForbidden)
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return nil, problemAt("name", "is required (at most 200 characters)")
	}
	key := autohook.NewAPIKey()
	var out *autohook.CreatedOrganisation
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		org, err := tx.CreateOrganisation(ctx, name)
		if err != nil {
			return err
		}
		k, err := tx.CreateAPIKey(ctx, org.ID, "admin", displayPrefix(key), autohook.HashKey(key), false, autohook.RoleOwner)
		if err != nil {
			return err
		}
		// The new organisation's first person: whoever opens this
		// invitation becomes its owner.
		inv, token, err := s.invite(ctx, tx, org.ID, "", autohook.RoleOwner)
		if err != nil {
			return err
		}
		out = &autohook.CreatedOrganisation{Organisation: org, APIKey: key, OwnerInvitation: &autohook.CreatedInvitation{Invitation: inv, Token: token}}
		// Recorded in the instance admin's own organisation's log: the
		// new organisation is not shown who in another one made it.
		return s.audit(ctx, tx, p.OrgID, autohook.AuditOrganisationCreated, target("organisation", org.ID, org.Name),
			details{"apiKeyId": k.ID, "ownerInvitationId": inv.ID})
	})
	return out, err
}

// Organisations lists organisations (instance admin only).
func (s *Service) Organisations(ctx context.Context, p *autohook.Principal, page autohook.Page) ([]*autohook.Organisation, string, error) {
	if !p.InstanceAdmin {
		return nil, "", fmt.Errorf("%w: only the instance admin can list organisations", autohook.ErrForbidden)
	}
	return s.st.Organisations(ctx, page)
}

// Bootstrapped says what Bootstrap created on a first start.
type Bootstrapped struct {
	Organisation      *autohook.Organisation
	APIKey            string // the admin API key
	KeyGenerated      bool   // false when it came from AUTOHOOK_BOOTSTRAP_API_KEY
	AdminLogin        string // the web UI admin's login
	AdminPassword     string
	PasswordGenerated bool // false when it came from AUTOHOOK_ADMIN_PASSWORD
}

// Bootstrap creates the first organisation, the instance admin's API key and
// the web UI admin when the database has no organisation yet; it returns nil
// otherwise. key and password are the ones to use ("" generates them).
func (s *Service) Bootstrap(ctx context.Context, key, password string) (*Bootstrapped, error) {
	n, err := s.st.CountOrganisations(ctx)
	if err != nil || n > 0 {
		return nil, err
	}
	out := &Bootstrapped{APIKey: key, AdminLogin: autohook.AdminLogin, AdminPassword: password}
	if password == "" {
		out.AdminPassword, out.PasswordGenerated = randomToken()[:20], true
	}
	if key == "" {
		out.APIKey, out.KeyGenerated = autohook.NewAPIKey(), true
	} else if len(key) < 16 {
		return nil, fmt.Errorf("AUTOHOOK_BOOTSTRAP_API_KEY must be at least 16 characters")
	}
	done := false
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		// Nodes starting together on one database: the first one
		// bootstraps, the others find it done.
		if err := tx.LockCluster(ctx, "bootstrap"); err != nil {
			return err
		}
		n, err := tx.CountOrganisations(ctx)
		if err != nil || n > 0 {
			done = n > 0
			return err
		}
		org, err := tx.CreateOrganisation(ctx, "Default")
		if err != nil {
			return err
		}
		out.Organisation = org
		if _, err = tx.CreateAPIKey(ctx, org.ID, "instance admin", displayPrefix(out.APIKey), autohook.HashKey(out.APIKey), true, autohook.RoleOwner); err != nil {
			return err
		}
		return createAdmin(ctx, tx, org.ID, out.AdminPassword)
	})
	if err != nil || done {
		return nil, err
	}
	return out, nil
}

var secretName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// MaxSecretLen bounds a secret's value.
const MaxSecretLen = 64 << 10

// MinSecretLen is the shortest secret value PutSecret takes. History hides
// a secret wherever its text appears (a receiver may echo it anywhere), so
// a value of a few bytes would also hide the same letters in unrelated
// text: a one-letter secret "v" turned "Autohook/0.1.0-dev" into
// "Autohook/0.1.0-de[redacted]". Credentials are longer; values computed
// from secrets are hidden from the same length (webhook's minDerived).
const MinSecretLen = 8

// PutSecret creates or replaces a secret, encrypted at rest.
func (s *Service) PutSecret(ctx context.Context, orgID, name, value string) error {
	if !secretName.MatchString(name) {
		return problemAt("name", "must be a letter or '_', then letters, digits or '_' (at most 64): it is used as {secrets.%s}", name)
	}
	switch {
	case value == "" || len(value) > MaxSecretLen:
		return problemAt("value", "is required (at most %d bytes)", MaxSecretLen)
	case len(value) < MinSecretLen:
		return problemAt("value", "must be at least %d bytes: history hides a secret wherever its text appears, so a shorter value would hide ordinary text too", MinSecretLen)
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		sealer, err := s.sealer(ctx, tx)
		if err != nil {
			return err
		}
		sealed := base64.StdEncoding.EncodeToString(sealer.Seal([]byte(value), secret.SecretAAD(orgID, name)))
		if err := tx.PutSecret(ctx, orgID, name, sealed); err != nil {
			return err
		}
		// The name only: never the value, nor anything derived from it.
		return s.audit(ctx, tx, orgID, autohook.AuditSecretPut, target("secret", name, name), nil)
	})
}

// Secrets lists secret names and times, never values.
func (s *Service) Secrets(ctx context.Context, orgID string) ([]autohook.Secret, error) {
	return s.st.Secrets(ctx, orgID)
}

// DeleteSecret deletes a secret.
func (s *Service) DeleteSecret(ctx context.Context, orgID, name string) error {
	return s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteSecret(ctx, orgID, name); err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, autohook.AuditSecretDeleted, target("secret", name, name), nil)
	})
}
