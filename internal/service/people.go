package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/autohook/autohook/internal/autohook"
	"github.com/autohook/autohook/internal/store"
)

// Password lengths: bcrypt reads at most 72 bytes.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 72
)

func checkPassword(path, pw string) error {
	if len(pw) < MinPasswordLen || len(pw) > MaxPasswordLen {
		return problemAt(path, "must be %d to %d bytes", MinPasswordLen, MaxPasswordLen)
	}
	return nil
}

// normalEmail checks an email given at path and returns it as logins are
// kept: trimmed, lower case.
func normalEmail(path, email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	at := strings.IndexByte(email, '@')
	if at < 1 || at == len(email)-1 || len(email) > 254 || strings.ContainsAny(email, " \t\r\n<>\"") {
		return "", problemAt(path, "must be an email address such as ana@example.com")
	}
	return email, nil
}

// invite stores an invitation in tx and returns it with its token.
func (s *Service) invite(ctx context.Context, tx *store.Tx, orgID, email string, role autohook.Role) (*autohook.Invitation, string, error) {
	token := randomToken()
	inv := &autohook.Invitation{OrgID: orgID, Email: email, Role: role, ExpiresAt: s.now().Add(s.invitationTTL).UTC().Truncate(time.Microsecond)}
	if err := tx.CreateInvitation(ctx, inv, autohook.HashKey(token)); err != nil {
		return nil, "", err
	}
	return inv, token, nil
}

// CreateInvitation invites email to the organisation with role.
func (s *Service) CreateInvitation(ctx context.Context, orgID, email string, role autohook.Role) (*autohook.CreatedInvitation, error) {
	email, err := normalEmail("email", email)
	if err != nil {
		return nil, err
	}
	if role == "" {
		return nil, problemAt("role", "is required: owner, editor or viewer")
	}
	if role, err = checkRole("role", role, ""); err != nil {
		return nil, err
	}
	if _, err := s.st.UserByEmail(ctx, email); err == nil {
		return nil, problemAt("email", "already signs in to Autohook: one email is one person in one organisation")
	} else if !errors.Is(err, autohook.ErrNotFound) {
		return nil, err
	}
	var out *autohook.CreatedInvitation
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		inv, token, err := s.invite(ctx, tx, orgID, email, role)
		if err != nil {
			return err
		}
		out = &autohook.CreatedInvitation{Invitation: inv, Token: token}
		return s.audit(ctx, tx, orgID, autohook.AuditInvitationCreated, target("invitation", inv.ID, email),
			details{"role": role, "expiresAt": inv.ExpiresAt})
	})
	return out, err
}

// Invitation returns the invitation of a token that can still be
// accepted; ErrNotFound when it is unknown, used or expired.
func (s *Service) Invitation(ctx context.Context, token string) (*autohook.Invitation, error) {
	if token == "" {
		return nil, autohook.ErrNotFound
	}
	inv, err := s.st.InvitationByHash(ctx, autohook.HashKey(token), s.now())
	if err != nil {
		return nil, fmt.Errorf("invitation: %w", err)
	}
	return inv, nil
}

// AcceptInvitation creates the invited user and uses the invitation up, in
// one transaction: of two acceptances at once, one fails.
func (s *Service) AcceptInvitation(ctx context.Context, token string, in autohook.Acceptance) (*autohook.User, error) {
	inv, err := s.Invitation(ctx, token)
	if err != nil {
		return nil, err
	}
	email := inv.Email
	if email == "" {
		if email, err = normalEmail("email", in.Email); err != nil {
			return nil, err
		}
	}
	name := strings.TrimSpace(in.Name)
	if name == "" || len(name) > 200 {
		return nil, problemAt("name", "is required (at most 200 characters)")
	}
	if err := checkPassword("password", in.Password); err != nil {
		return nil, err
	}
	h, err := HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	u := &autohook.User{OrgID: inv.OrgID, Email: email, Name: name, Role: inv.Role, PasswordHash: h}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.UseInvitation(ctx, inv.OrgID, inv.ID, s.now()); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, u); errors.Is(err, autohook.ErrConflict) {
			return problemAt("email", "already signs in to Autohook")
		} else if err != nil {
			return err
		}
		return auditAs(ctx, tx, inv.OrgID, userActor(u), autohook.AuditInvitationAccepted, target("user", u.ID, u.Email),
			details{"invitationId": inv.ID, "role": u.Role})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Users lists the organisation's people.
func (s *Service) Users(ctx context.Context, orgID string, page autohook.Page) ([]*autohook.User, string, error) {
	return s.st.Users(ctx, orgID, page)
}

// errLastOwner refuses to leave an organisation without an owner.
var errLastOwner = fmt.Errorf("%w: this is the organisation's only owner: make someone else an owner first", autohook.ErrConflict)

// lastOwner refuses, in tx, to take an owner away when they are the
// organisation's only one. The organisation's owners are locked first
// (PostgreSQL; SQLite has one writer): two owners demoting or removing
// each other at once each counted two owners, on rows the other did not
// change, and left none.
func lastOwner(ctx context.Context, tx *store.Tx, orgID string) error {
	if err := tx.LockCluster(ctx, "owners:"+orgID); err != nil {
		return err
	}
	n, err := tx.CountOwners(ctx, orgID)
	if err != nil {
		return err
	}
	if n <= 1 {
		return errLastOwner
	}
	return nil
}

// SetUserRole changes a user's role; it applies from their next request.
func (s *Service) SetUserRole(ctx context.Context, orgID, id string, role autohook.Role) (*autohook.User, error) {
	if role == "" {
		return nil, problemAt("role", "is required: owner, editor or viewer")
	}
	role, err := checkRole("role", role, "")
	if err != nil {
		return nil, err
	}
	var u *autohook.User
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if u, err = tx.User(ctx, orgID, id); err != nil {
			return err
		}
		from := u.Role
		if from == role {
			return nil // nothing changes, nothing to record
		}
		if from == autohook.RoleOwner {
			if err := lastOwner(ctx, tx, orgID); err != nil {
				return err
			}
		}
		if err := tx.SetUserRole(ctx, orgID, id, role); err != nil {
			return err
		}
		u.Role = role
		return s.audit(ctx, tx, orgID, autohook.AuditUserRoleChanged, target("user", u.ID, u.Email), details{"from": from, "to": role})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// RemoveUser deletes a user; their sessions end in the same transaction.
func (s *Service) RemoveUser(ctx context.Context, orgID, id string) error {
	return s.st.Write(ctx, func(tx *store.Tx) error {
		u, err := tx.User(ctx, orgID, id)
		if err != nil {
			return err
		}
		if u.Role == autohook.RoleOwner {
			if err := lastOwner(ctx, tx, orgID); err != nil {
				return err
			}
		}
		if err := tx.DeleteUser(ctx, orgID, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, autohook.AuditUserRemoved, target("user", u.ID, u.Email), details{"role": u.Role})
	})
}

// me is the signed-in user making the request.
func (s *Service) me(ctx context.Context, orgID string) (*autohook.User, error) {
	a := autohook.ActorFrom(ctx)
	if a == nil || a.Type != autohook.ActorUser {
		return nil, fmt.Errorf("%w: only a signed-in person has a password and sessions", autohook.ErrForbidden)
	}
	u, err := s.st.User(ctx, orgID, a.ID)
	if errors.Is(err, autohook.ErrNotFound) {
		return nil, autohook.ErrUnauthorized
	}
	return u, err
}

// ChangePassword changes the signed-in user's password; their other
// sessions end (keepSession, the id of the one in use, stays).
func (s *Service) ChangePassword(ctx context.Context, orgID, current, password, keepSession string) error {
	u, err := s.me(ctx, orgID)
	if err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(current)) != nil {
		return problemAt("current", "is not your current password")
	}
	if err := checkPassword("password", password); err != nil {
		return err
	}
	h, err := HashPassword(password)
	if err != nil {
		return err
	}
	keep := ""
	if keepSession != "" {
		keep = autohook.HashKey(keepSession)
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.SetUserPassword(ctx, orgID, u.ID, h); err != nil {
			return err
		}
		n, err := tx.DeleteUserSessions(ctx, orgID, u.ID, keep)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, autohook.AuditUserPasswordChanged, target("user", u.ID, u.Email), details{"sessionsEnded": n})
	})
}

// SignOutEverywhere ends every session of the signed-in user.
func (s *Service) SignOutEverywhere(ctx context.Context, orgID string) error {
	u, err := s.me(ctx, orgID)
	if err != nil {
		return err
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		n, err := tx.DeleteUserSessions(ctx, orgID, u.ID, "")
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, orgID, autohook.AuditUserSignedOutEverywhere, target("user", u.ID, u.Email), details{"sessionsEnded": n})
	})
}
