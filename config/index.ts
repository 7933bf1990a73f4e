export { CONFIG_KEYS, defaultConfig, ruleConfigOf, type Config, type ConfigKey, type ConfigKeySpec, type ValueKind } from './defaults.js';
export {
  ConfigError,
  configToEnvName,
  configToFlagName,
  loadConfig,
  normaliseBootstrapUrl,
  type LoadConfigOptions,
} from './load.js';
