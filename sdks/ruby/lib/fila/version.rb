# frozen_string_literal: true

module Fila
  VERSION = "0.1.0"
end
