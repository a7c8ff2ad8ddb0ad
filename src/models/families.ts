// Loads every model family so that each registers itself (see registry.ts).
import './bert';
import './roberta';
import './distilbert';
import './electra';
import './deberta-v2';
import './modernbert';
import './gpt2';
import './llama';
