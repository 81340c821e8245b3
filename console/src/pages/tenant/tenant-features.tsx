import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import type { Capabilities } from '../../api/capabilities';
import { api, data, type Schemas } from '../../api/client';
import { ErrorMessage } from '../../components/error-message';

type Tenant = Schemas['TenantDetail'];

/** A flag's name as the server accepts it (docs/features.md); the server decides anyway. */
const FLAG_NAME = /^[a-z][a-z0-9-]{1,38}[a-z0-9]$/;

/**
 * The tenant's effective feature flags, each marked as its tier's default or the tenant's own override;
 * a scope that may write sets an override on or off, removes it (the tier's default applies again) or
 * adds one by name. Every change is a PATCH of the tenant, which the audit log keeps.
 */
export function TenantFeatures({ tenant, capabilities }: { tenant: Tenant; capabilities: Capabilities }) {
  const queries = useQueryClient();
  const [name, setName] = useState('');
  const [nameError, setNameError] = useState<string | null>(null);
  const tier = useQuery({
    queryKey: ['tier', tenant.tier],
    queryFn: () => data(api.GET('/admin/v1/tiers/{tier}', { params: { path: { tier: tenant.tier } } })),
  });
  const update = useMutation({
    mutationFn: (features: Schemas['FeatureFlagsUpdate']) =>
      data(api.PATCH('/admin/v1/tenants/{id}', { params: { path: { id: tenant.id } }, body: { features } })),
    onSuccess: () => {
      void queries.invalidateQueries({ queryKey: ['tenant', tenant.id] });
      void queries.invalidateQueries({ queryKey: ['audit'] });
    },
  });
  const effective = tenant.features ?? {};
  const overrides = tenant.feature_overrides ?? {};
  const defaults = tier.data?.features ?? {};
  const names = [
    ...new Set([...Object.keys(defaults), ...Object.keys(effective), ...Object.keys(overrides)]),
  ].sort();
  const canWrite = capabilities.can.write && tenant.status !== 'deleted';
  const addOverride = (event: FormEvent) => {
    event.preventDefault();
    const flag = name.trim();
    if (!FLAG_NAME.test(flag)) {
      setNameError('A flag name is 3 to 40 lowercase letters, digits and dashes, starting with a letter.');
      return;
    }
    setNameError(null);
    update.mutate({ [flag]: true }, { onSuccess: () => setName('') });
  };
  const onOff = (value: boolean | undefined) => (value === undefined ? 'unset' : value ? 'on' : 'off');
  return (
    <section aria-labelledby="features-heading">
      <h2 id="features-heading">Features</h2>
      <ErrorMessage error={tier.error} />
      {names.length === 0 ? (
        <p>No feature flags: the tier sets none and the tenant overrides none.</p>
      ) : (
        <table className="list" aria-label="Feature flags">
          <thead>
            <tr>
              <th scope="col">Flag</th>
              <th scope="col">Effective</th>
              <th scope="col">Tier default</th>
              <th scope="col">Source</th>
              {canWrite ? <th scope="col">Change</th> : null}
            </tr>
          </thead>
          <tbody>
            {names.map((flag) => {
              const overridden = overrides[flag] !== undefined;
              return (
                <tr key={flag}>
                  <td>{flag}</td>
                  <td>{onOff(effective[flag])}</td>
                  <td>{onOff(defaults[flag])}</td>
                  <td>{overridden ? 'override' : 'tier'}</td>
                  {canWrite ? (
                    <td>
                      <button
                        type="button"
                        disabled={update.isPending || overrides[flag] === true}
                        onClick={() => update.mutate({ [flag]: true })}
                        aria-label={`Turn ${flag} on`}
                      >
                        On
                      </button>{' '}
                      <button
                        type="button"
                        disabled={update.isPending || overrides[flag] === false}
                        onClick={() => update.mutate({ [flag]: false })}
                        aria-label={`Turn ${flag} off`}
                      >
                        Off
                      </button>{' '}
                      {overridden ? (
                        <button
                          type="button"
                          disabled={update.isPending}
                          onClick={() => update.mutate({ [flag]: null })}
                          aria-label={`Remove override of ${flag}`}
                        >
                          Remove override
                        </button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {canWrite ? (
        <form className="inline" onSubmit={addOverride}>
          <label htmlFor="new-flag">Flag name</label>
          <input
            id="new-flag"
            value={name}
            onChange={(event) => setName(event.target.value)}
            aria-invalid={nameError ? true : undefined}
            aria-describedby={nameError ? 'new-flag-error' : undefined}
          />
          <button type="submit" disabled={update.isPending}>
            Add override (on)
          </button>
        </form>
      ) : null}
      {nameError ? (
        <p id="new-flag-error" className="error" role="alert">
          {nameError}
        </p>
      ) : null}
      <ErrorMessage error={update.error} />
    </section>
  );
}
