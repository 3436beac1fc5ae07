// Preloaded (node --import) for README blocks marked `with-provider`: the provider the README's
// Quickstart registers, nothing more. The processor's exit flush sends the block's spans.
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { SGPSpanProcessor } from 'sgp-otel';

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'readme-quickstart' }),
  spanProcessors: [new SGPSpanProcessor()],
});
provider.register();
