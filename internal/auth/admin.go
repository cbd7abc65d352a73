package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/backapp/backapp/internal/apperr"
	"github.com/backapp/backapp/internal/store"
)

// ListUsers lists every account (admins only).
func (s *Service) ListUsers(ctx context.Context, actor store.User) ([]store.User, error) {
	if actor.Role != store.RoleAdmin {
		return nil, errAdminOnly
	}
	us, err := s.st.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// GetUser returns the user id as seen by actor: users see only themselves (anyone
// else is "not found", so ids cannot be probed), admins see everyone.
func (s *Service) GetUser(ctx context.Context, actor store.User, id string) (store.User, error) {
	if actor.Role != store.RoleAdmin && actor.ID != id {
		return store.User{}, errUserNotFound
	}
	u, err := s.st.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, errUserNotFound
	}
	if err != nil {
		return store.User{}, fmt.Errorf("load user: %w", err)
	}
	return u, nil
}

var errUserNotFound = apperr.New(apperr.NotFound, "no such user")

// target loads the user an admin acts on, refusing actions on oneself (which would
// risk locking the last admin out; one's own profile is changed on the profile page).
func (s *Service) target(ctx context.Context, actor store.User, id, verb string) (store.User, error) {
	if actor.Role != store.RoleAdmin {
		return store.User{}, errAdminOnly
	}
	if actor.ID == id {
		return store.User{}, apperr.New(apperr.Forbidden, "you cannot %s your own account; ask another administrator", verb)
	}
	u, err := s.st.GetUser(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, errUserNotFound
	}
	if err != nil {
		return store.User{}, fmt.Errorf("load user: %w", err)
	}
	return u, nil
}

// SetRole changes a user's role (admins only, not their own).
func (s *Service) SetRole(ctx context.Context, actor store.User, id, role string, m Meta) (store.User, error) {
	if role != store.RoleAdmin && role != store.RoleUser {
		return store.User{}, apperr.Invalidf("role", "role must be %q or %q", store.RoleAdmin, store.RoleUser)
	}
	u, err := s.target(ctx, actor, id, "change the role of")
	if err != nil {
		return store.User{}, err
	}
	if u.Role == role {
		return u, nil
	}
	if err := s.st.SetUserRole(ctx, id, role, s.now()); err != nil {
		return store.User{}, fmt.Errorf("set role: %w", err)
	}
	s.audit(ctx, actor.ID, "user.role", id, m, u.Role+" → "+role)
	u.Role = role
	return u, nil
}

// SetDisabled disables or enables a user (admins only, not their own). A disabled
// user's sessions end at once.
func (s *Service) SetDisabled(ctx context.Context, actor store.User, id string, disabled bool, m Meta) (store.User, error) {
	u, err := s.target(ctx, actor, id, "disable or enable")
	if err != nil {
		return store.User{}, err
	}
	if err := s.st.SetUserDisabled(ctx, id, disabled, s.now()); err != nil {
		return store.User{}, fmt.Errorf("set disabled: %w", err)
	}
	action := "user.enable"
	if disabled {
		action = "user.disable"
		if err := s.st.DeleteUserSessions(ctx, id, ""); err != nil {
			return store.User{}, fmt.Errorf("end sessions: %w", err)
		}
	}
	s.audit(ctx, actor.ID, action, id, m, u.Email)
	u.Disabled = disabled
	return u, nil
}

// DeleteUser deletes a user and everything they own (admins only, not their own).
func (s *Service) DeleteUser(ctx context.Context, actor store.User, id string, m Meta) error {
	u, err := s.target(ctx, actor, id, "delete")
	if err != nil {
		return err
	}
	if err := s.st.DeleteUser(ctx, id); err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	s.audit(ctx, actor.ID, "user.delete", id, m, u.Email)
	return nil
}
