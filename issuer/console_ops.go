package issuer

import (
	"context"
	"fmt"

	"github.com/mynumber-mdoc/mnc/issuer/store"
)

// Device returns one enrolled device (the operator console's lookup by
// device id).
func (s *Service) Device(ctx context.Context, id string) (*store.Device, error) {
	d, err := s.devices.Device(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read device %s: %w", id, err)
	}
	return d, nil
}

// Credentials lists the credentials issued to a device, with their
// status-list state.
func (s *Service) Credentials(ctx context.Context, deviceID string) ([]store.Credential, error) {
	c, err := s.creds.Credentials(ctx, deviceID)
	if err != nil {
		return nil, fmt.Errorf("read credentials of %s: %w", deviceID, err)
	}
	return c, nil
}
