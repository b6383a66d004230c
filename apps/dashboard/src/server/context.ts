/**
 * What every resolver gets: the store, this request's DataLoaders, the caller's role, and lazy
 * handles to the runner's control API and the plugin catalogue.
 */
import type { RunStore } from "@selfsup/store";
import type { AuthConfig } from "./auth";
import type { Catalogue } from "./catalogue";
import type { ControlClient } from "./control";
import type { Role } from "./enums";
import { createLoaders, type Loaders } from "./loaders";

export interface Context {
  store: RunStore;
  loaders: Loaders;
  auth: AuthConfig;
  role: Role;
  /** The runner's control client; throws a RUNNER_UNAVAILABLE GraphQLError when it cannot be had. */
  control: () => Promise<ControlClient>;
  catalogue: () => Promise<Catalogue>;
}

export interface ContextDeps {
  store: RunStore;
  auth: AuthConfig;
  role: Role;
  control: () => Promise<ControlClient>;
  catalogue: () => Promise<Catalogue>;
}

export function createContext(deps: ContextDeps): Context {
  return { ...deps, loaders: createLoaders(deps.store) };
}
